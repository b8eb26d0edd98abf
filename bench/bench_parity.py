"""Parity sweep: null residual of the torch engine against pedalboard, per processor and whole chain.

Run: ``python bench/bench_parity.py [--n 40]``. Residual = 10*log10(energy of
(torch - pedalboard) / energy of pedalboard) on music-like stereo, random
settings uniform over each spec's range (log-uniform for log params).
Writes ``bench/results/parity.md``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import write_table  # noqa: E402
from automix.engines import pedalboard_engine, torch_engine  # noqa: E402
from automix.settings import MASTER_CHAIN, STEM_CHAIN, MixSettings, PluginSettings, StemSettings  # noqa: E402
from automix.plugins import REGISTRY, get_plugin  # noqa: E402
from automix.plugins.eq import pedalboard_filters  # noqa: E402
from tests.conftest import music_like, null_residual_db  # noqa: E402


def random_params(name: str, rng) -> dict:
    out = {}
    for s in get_plugin(name).params:
        u = rng.uniform()
        out[s.name] = float(u > 0.5) if s.scale == "bool" else float(s.from_unit(u))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="settings per processor")
    args = ap.parse_args()
    rng = np.random.default_rng(11)
    sr = 44100
    x = music_like(2 * sr, sr, 2, seed=4)
    rows = []
    for name, plugin in REGISTRY.items():
        res = []
        for _ in range(args.n):
            params = random_params(name, rng)
            if name == "eq":  # production runs a cascade tested equal to these filters: parity against pedalboard
                ref = pedalboard.Pedalboard(pedalboard_filters(sr, **params))(x, sr, buffer_size=x.shape[1])
            else:
                chain = pedalboard_engine.StreamingChain(
                    pedalboard_engine.build_stages(sr, [PluginSettings(name, params)]), sr, x.shape[1])
                ref = np.concatenate([chain.process(x), chain.flush()], axis=1)
            out = plugin.torch_fn(torch.from_numpy(x)[None], sr, **params)[0].numpy()
            res.append(null_residual_db(ref, out))
        finite = [r for r in res if np.isfinite(r)]
        med = np.median(res)
        rows.append([name, args.n, "bit-exact" if not finite else f"{med:.1f}",
                     "bit-exact" if not finite else f"{max(finite):.1f}"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(8):
            p = f"{tmp}/s{i}.wav"
            sf.write(p, (music_like(10 * sr, sr, 1 + i % 2, seed=i) * rng.uniform(0.2, 1)).T, sr, subtype="FLOAT")
            paths.append(p)
        res = []
        for _ in range(max(3, args.n // 4)):
            stems = [StemSettings(p, [PluginSettings(n, random_params(n, rng)) for n in STEM_CHAIN],
                                  float(rng.uniform(-12, 12))) for p in paths]
            master = [PluginSettings(n, random_params(n, rng)) for n in MASTER_CHAIN]
            s = MixSettings(sr, stems, master)
            res.append(null_residual_db(pedalboard_engine.render(s), torch_engine.render(s)))
        rows.append(["whole chain, 8 stems x 10 s", len(res), _db(np.median(res)), _db(max(res))])
    write_table("parity", ["processor", "settings", "median residual dB", "worst residual dB"], rows, notes=NOTES)


#: why the whole chain matches: what the twins had to agree on beyond each processor alone
NOTES = (
    "Targets: whole chain median <= -90 dB, worst <= -60 dB. Each processor alone is bit-exact; the whole "
    "chain adds the stem sum and the bus trim. An earlier whole-chain figure of -77 dB came from the sum: "
    "the torch engine added the stems in groups of identical chain layout while the pedalboard engine adds "
    "them one after another in stem order, and float32 addition is order-sensitive; the master's clipper and "
    "limiter then turned that round-off into audible-level differences. Both engines now sum in stem order, "
    "and saturation uses libm's tanhf as JUCE does, so the chain is bit-exact on most random settings. The "
    "rare residual (about -100 dB) is pedalboard's own: the same plugins run inside one pedalboard.Pedalboard "
    "(gain, saturation and the limiter together) differ in the last bit from the same plugins run one by one, "
    "and the torch twin matches the one-by-one result exactly.",
)


def _db(x: float) -> str:
    return "bit-exact" if not np.isfinite(x) else f"{x:.1f}"


if __name__ == "__main__":
    main()
