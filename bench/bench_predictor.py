"""Benchmark: predictor inference time for 16 stems on one core (target < 50 ms).

Run: ``python bench/bench_predictor.py``. Measures, in one single-threaded
process, the whole ``predict_settings`` call the mixer makes (priors, network,
mapping to engineering units) for 16 stems, next to the same call for one stem
(the baseline: fixed costs) and the network's forward alone. Median of 50
warm calls each. Writes ``bench/results/predictor.md``.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import run_isolated, write_table  # noqa: E402

CODE = """
import time, statistics, numpy as np, torch
from automix.features import StemFeatures, _NEUTRAL
from automix.mixer import load_predictor, predict_settings
from automix.styles import get_style
from automix.weights import fingerprint
torch.set_num_threads(1)
style = get_style('rock_punk')
model = load_predictor()
def session(n):
    rng = np.random.default_rng(n)
    feats = []
    for i in range(n):
        v = dict(_NEUTRAL, spectral_centroid_hz=float(rng.uniform(200, 6000)), crest_db=float(rng.uniform(6, 20)))
        feats.append(StemFeatures(f'stem{i}.wav', -20.0, v))
    return feats, [f.path for f in feats], [['vocal', 'kick', 'snare', 'bass', 'guitar', 'keys', 'pads', 'other'][i % 8] for i in range(n)]
def median_ms(fn, repeat=50):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)
f16, p16, r16 = session(16)
f1, p1, r1 = session(1)
full16 = median_ms(lambda: predict_settings(f16, p16, r16, style, model))
full1 = median_ms(lambda: predict_settings(f1, p1, r1, style, model))
x = torch.randn(1, 16, len(f16[0].vector())); roles = torch.zeros(1, 16, dtype=torch.long)
mask = torch.ones(1, 16, dtype=torch.bool); st = torch.rand(1, 7)
sp = torch.full((1, 16, model.stem_head[-1].out_features), 0.5); mp = torch.full((1, model.master_head[-1].out_features), 0.5)
def net():
    with torch.no_grad():
        model(x, roles, mask, st, sp, mp)
net16 = median_ms(net)
RESULT = dict(full16=full16, full1=full1, net16=net16, weights=fingerprint()[:12])
"""


def main() -> None:
    r = run_isolated(CODE)
    rows = [
        ["predict_settings, 1 stem (baseline: fixed costs)", f"{r['full1']:.1f}", "1.00", ""],
        ["predict_settings, 16 stems (priors + network + units)", f"{r['full16']:.1f}",
         f"{r['full16'] / r['full1']:.2f}", "< 50 ms"],
        ["network forward only, 16 stems", f"{r['net16']:.1f}", f"{r['net16'] / r['full1']:.2f}", ""],
    ]
    write_table("predictor", ["measurement (1 core, median of 50)", "ms", "ratio to baseline", "target"], rows)
    print(f"weights {r['weights']}, peak RSS {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
