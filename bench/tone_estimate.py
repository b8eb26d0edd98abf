"""Diagnostic (accuracy, not speed): how well does the tone head's bus estimate see the bus?

Run: ``python bench/tone_estimate.py [--count 12]``. Mixes generated held-out sessions (rock_punk) with the
shipped predictor, renders the predicted strips in the torch engine with every stage, with the compressors
off (ratio 1), with saturation off (mix 0), and with both off, and compares three estimates of the summed
strips' low/mid/high shares with each render (max abs share error, median and p95 over sessions):

- octaves + compressor model (``bus_band_shares``, what the tone solve and head read): ten octave shares per
  stem, its strip EQ at each octave's centre, its compressor's static gain reduction from the stem's envelope
  level histogram;
- octaves only: the same without the compressor model;
- full spectrum: each stem's Welch spectrum (4096 points) through its strip EQ's exact response
  (:func:`automix.bus_estimate.strip_eq_power`), same levels, pans and widths, no compressor model.

The gap between "octaves only" and the full spectrum on the linear render is what reading the EQ at one
frequency per octave costs; the gain from the compressor model shows on the renders with compressors.
Writes ``bench/results/tone_estimate.md``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import welch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from automix.engines.torch_engine import load_stems, render_stems, stem_chain  # noqa: E402
from automix.evaluate import find_sessions  # noqa: E402
from automix.meters.differentiable import band_balance_torch  # noqa: E402
from automix.mixer import Stages, load_predictor, mix_session  # noqa: E402
from automix.bus_estimate import bus_band_shares, strip_energies, strip_eq_power  # noqa: E402
from automix.sessiongen import write_sessions  # noqa: E402
from automix.settings import MixSettings  # noqa: E402
from automix.styles import get_style  # noqa: E402
from bench.common import write_table  # noqa: E402

#: render variants: (compressors on, saturation on)
VARIANTS = {"all stages": (True, True), "compressors off": (False, True), "saturation off": (True, False),
            "both off (linear)": (False, False)}


class Recorder(torch.nn.Module):
    """The shipped predictor, keeping the last call's inputs and stem settings."""

    def __init__(self):
        super().__init__()
        self.model, self.last = load_predictor(), {}

    def forward(self, features, roles, mask, style, stem_prior, master_prior):
        stem_u, master_u = self.model(features, roles, mask, style, stem_prior, master_prior)
        self.last = dict(features=features.detach(), mask=mask, stem_u=stem_u.detach())
        return stem_u, master_u


def full_spectrum_shares(paths: list[str], last: dict) -> np.ndarray:
    """Low/mid/high shares from each stem's mid spectrum through its strip EQ, weighted by its strip's power."""
    mid_energy = strip_energies(last["features"].double(), last["mask"], last["stem_u"].double())[0][0].numpy()
    bands = np.zeros(3)
    for k, path in enumerate(paths):
        x, sr = sf.read(path, always_2d=True)
        f, p = welch(x.mean(axis=1), fs=sr, nperseg=4096)
        power = p / p.sum() * strip_eq_power(last["stem_u"][0, k], f).numpy() * mid_energy[k]
        bands += [power[f < 250].sum(), power[(f >= 250) & (f < 4000)].sum(), power[f >= 4000].sum()]
    return bands / bands.sum()


def rendered_shares(settings: MixSettings, x: torch.Tensor, compressors: bool, saturation: bool) -> np.ndarray:
    """Band shares of the summed strips (torch engine, float64; ``x`` the loaded stems), with stages
    neutralised as asked."""
    def neutralise(chain):
        out = []
        for name, params in chain:
            params = dict(params)
            if name == "compressor" and not compressors:
                params["ratio"] = 1.0
            if name == "saturation" and not saturation:
                params["mix"] = 0.0
            out.append((name, params))
        return out

    chains = [neutralise(stem_chain(s.input_gain_db, s.chain)) for s in settings.stems]
    with torch.no_grad():
        bus = render_stems(x, settings.sample_rate, chains)
        return band_balance_torch(bus[None], settings.sample_rate)[0].numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12)
    args = ap.parse_args()
    style, recorder = get_style("rock_punk"), Recorder()
    names = ("octaves + compressor model", "octaves only", "full spectrum")
    errors = {(e, v): [] for e in names for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_sessions(tmp / "sessions", args.count, held_out=True, duration_s=10.0)
        sessions, _ = find_sessions(tmp / "sessions")
        for i, s in enumerate(sessions):
            mix_session(s.stems, style=style, output=tmp / f"{i}.wav", stages=Stages(tone_match=False, closed_loop=False),
                        predictor=recorder, settings_out=tmp / f"{i}.json")
            settings = MixSettings.load(tmp / f"{i}.json")
            paths = [st.path for st in settings.stems]  # the mixer's canonical order, as the predictor saw them
            last = recorder.last
            with torch.no_grad():
                f, m, u = last["features"], last["mask"], last["stem_u"]
                estimates = {"octaves + compressor model": bus_band_shares(f, m, u)[0].numpy(),
                             "octaves only": bus_band_shares(f, m, u, compressors=False)[0].numpy(),
                             "full spectrum": full_spectrum_shares(paths, last)}
            x = load_stems(settings, torch.float64)
            for v, (comp, sat) in VARIANTS.items():
                measured = rendered_shares(settings, x, comp, sat)
                for e, est in estimates.items():
                    errors[e, v].append(float(np.abs(est - measured).max()))
            print(f"{s.name}: all stages: " + ", ".join(f"{e} {errors[e, 'all stages'][-1]:.3f}" for e in names),
                  flush=True)
    rows = [[e] + [f"{np.median(errors[e, v]):.3f} / {np.percentile(errors[e, v], 95):.3f}" for v in VARIANTS]
            for e in names]
    write_table("tone_estimate", ["estimate (median / p95 max share error)"] + [f"vs render, {v}" for v in VARIANTS],
                rows, notes=(f"{args.count} generated held-out sessions (10 s), rock_punk, shipped weights, "
                             "predicted strips rendered in the torch engine (float64).",))


if __name__ == "__main__":
    main()
