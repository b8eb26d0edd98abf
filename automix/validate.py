"""``automix validate``: the original design's validation suite on synthetic sessions.

Cases (deterministic, generated in a temporary folder, 4 or 6 stems):

=====================  =====================================================================
white_noise            white-noise stems at different levels, mono and stereo (basic function)
bass_heavy             sub sine, low saw bass, low thumps, low-passed noise pad (< 300 Hz)
bright                 high-passed hats and shaker, an airy noise pad, high bells (> 3 kHz)
very_quiet             a 6-stem band (:func:`automix.sessiongen.generate_stems`) with every stem at -50 LUFS
very_loud              the same band with every stem peaking at +6 dBFS (float WAV)
heavily_compressed     the same band driven through tanh until each stem's crest is ~4 dB
=====================  =====================================================================

Every case is mixed by the shipped pipeline (``automix mix``; ``--optimize`` steps of refinement,
0 by default) to every style (cross-style), and every target of the mix report is printed with
the measured value and pass/fail. Hard targets (loudness, true-peak ceiling) decide the exit code.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf
from scipy import signal

from automix.errors import SettingsError
from automix.report import SOFT_TARGETS
from automix.styles import StyleTargets

SCHEMA = "automix.validate/1"
SAMPLE_RATE = 44100
QUIET_LUFS = -50.0
LOUD_PEAK_DBFS = 6.0
COMPRESSED_CREST_DB = 4.0
CASES = {
    "white_noise": "white-noise stems at different levels, mono and stereo (basic function)",
    "bass_heavy": "sub sine, low saw bass, low thumps, low-passed noise pad (< 300 Hz)",
    "bright": "high-passed hats and shaker, airy noise pad, high bells (> 3 kHz)",
    "very_quiet": f"a 6-stem band, every stem at {QUIET_LUFS:g} LUFS",
    "very_loud": f"the same band, every stem peaking at +{LOUD_PEAK_DBFS:g} dBFS (float WAV)",
    "heavily_compressed": f"the same band driven through tanh to a crest factor of ~{COMPRESSED_CREST_DB:g} dB",
}
HARD = ("integrated_lufs", "true_peak_dbtp")


# ------------------------------------------------------------------------------------------------ signals

def _bursts(n: int, sr: int, rng: np.random.Generator, every_s: float, decay_s: float) -> np.ndarray:
    env = np.zeros(n)
    m = int(decay_s * 6 * sr)
    shape = np.exp(-np.arange(m) / (decay_s * sr))
    for start in range(0, n, int(every_s * sr)):
        k = min(m, n - start)
        env[start:start + k] += shape[:k] * rng.uniform(0.6, 1.0)
    return env


def _filtered_noise(n, sr, rng, kind, hz, channels=1):
    sos = signal.butter(4, hz, kind, fs=sr, output="sos")
    return signal.sosfilt(sos, rng.standard_normal((channels, n)), axis=-1)


def _case_stems(case: str, n: int, sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``{file stem: (channels, samples) float32}`` for one case, before level changes."""
    t = np.arange(n) / sr
    if case == "white_noise":
        return {"Noise A": 0.3 * rng.standard_normal((2, n)), "Noise B": 0.1 * rng.standard_normal((1, n)),
                "Noise C": 0.03 * rng.standard_normal((2, n)), "Noise D": 0.2 * rng.standard_normal((1, n))}
    if case == "bass_heavy":
        saw = signal.sawtooth(2 * np.pi * 55.0 * t)
        thump = np.sin(2 * np.pi * 50.0 * t) * _bursts(n, sr, rng, 0.5, 0.08)
        return {"Sub": (0.4 * np.sin(2 * np.pi * 41.2 * t))[None],
                "Bass": 0.3 * signal.sosfilt(signal.butter(4, 250.0, "low", fs=sr, output="sos"), saw)[None],
                "Kick": (0.8 * thump)[None],
                "Pad": 0.2 * _filtered_noise(n, sr, rng, "low", 300.0, 2)}
    if case == "bright":
        bells = sum(np.sin(2 * np.pi * f * t) for f in (3520.0, 4186.0, 5274.0)) * _bursts(n, sr, rng, 0.75, 0.3)
        return {"Hats": _filtered_noise(n, sr, rng, "high", 7000.0) * _bursts(n, sr, rng, 0.125, 0.02),
                "Shaker": _filtered_noise(n, sr, rng, "high", 5000.0, 2) * _bursts(n, sr, rng, 0.25, 0.05),
                "Air Pad": 0.1 * _filtered_noise(n, sr, rng, "high", 3000.0, 2),
                "Bells": (0.1 * bells)[None]}
    from automix.sessiongen import generate_stems

    band = generate_stems(int(rng.integers(1 << 30)), n_stems=6, duration_s=n / sr, sample_rate=sr)
    return {name: x[..., :n] for name, x in band.items()}


def _crest_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(x)) / np.sqrt(np.mean(x * x))))


def _compress(x: np.ndarray, crest_db: float) -> np.ndarray:
    """tanh(k x) with k (bisection in log k) giving the wanted crest factor; the peak kept."""
    peak = np.max(np.abs(x))
    lo, hi = 0.0, 8.0  # log10 k
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        y = np.tanh(10 ** mid * x / peak)
        lo, hi = (mid, hi) if _crest_db(y) > crest_db else (lo, mid)
    return np.tanh(10 ** hi * x / peak) * peak


def make_case(case: str, folder: str | Path, *, duration_s: float = 6.0, seed: int = 0) -> tuple[list[str], dict]:
    """Write one case's stems into ``folder``; returns the paths and what was measured on them."""
    from automix.meters import analyze

    if case not in CASES:
        raise SettingsError(f"unknown validation case {case!r}; choose from {', '.join(CASES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sr = SAMPLE_RATE
    n = int(round(duration_s * sr))
    rng = np.random.default_rng([seed, list(CASES).index(case)])
    stems = _case_stems(case, n, sr, rng)
    paths, facts = [], []
    for name, x in stems.items():
        x = np.asarray(x, np.float64)
        x = x * 10 ** (rng.uniform(-12.0, -3.0) / 20) / np.max(np.abs(x))  # unequal levels, no clipping
        if case == "very_quiet":
            x = x * 10 ** ((QUIET_LUFS - analyze(x, sr)["integrated_lufs"]) / 20)
        elif case == "very_loud":
            x = x * 10 ** (LOUD_PEAK_DBFS / 20) / np.max(np.abs(x))
        elif case == "heavily_compressed":
            x = _compress(x, COMPRESSED_CREST_DB)
        x = x.astype(np.float32)
        m = analyze(x, sr)
        p = folder / f"{name}.wav"
        sf.write(str(p), x.T, sr, subtype="FLOAT" if case == "very_loud" else "PCM_24")
        paths.append(str(p))
        facts.append({"stem": p.name, "channels": x.shape[0], "lufs": m["integrated_lufs"],
                      "peak_dbfs": m["sample_peak_dbfs"], "crest_db": _crest_db(x),
                      "centroid_hz": m["spectral_centroid_hz"]})
    return paths, {"case": case, "description": CASES[case], "stems": facts}


# ------------------------------------------------------------------------------------------------ the suite

def run_validation(styles: Sequence[str | StyleTargets] | None = None, *, targets: str | None = None,
                   cases: Sequence[str] | None = None, duration_s: float = 6.0, optimize_steps: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Mix every case to every style in a temporary folder; returns every report's targets.

    Args:
        styles: names (presets, or styles of the ``targets`` YAML) or :class:`StyleTargets`;
            ``None`` = every preset, or every style of ``targets`` when it is given.

    Raises:
        SettingsError: an unknown case name. StyleError: an unknown style or a bad targets file.
    """
    from automix.mixer import mix_session, weights_fingerprint
    from automix.styles import get_style, load_style_targets

    book = load_style_targets(targets) if targets else None
    if not styles:
        styles = list((book or load_style_targets()).values())
    styles = [s if isinstance(s, StyleTargets) else get_style(s, book) for s in styles]

    cases = list(cases or CASES)
    for c in cases:
        if c not in CASES:
            raise SettingsError(f"unknown validation case {c!r}; choose from {', '.join(CASES)}")
    say = progress or (lambda line: None)
    t0 = time.perf_counter()
    out = {"schema": SCHEMA, "predictor": weights_fingerprint(), "optimize_steps": optimize_steps,
           "duration_s": duration_s, "cases": [], "runs": []}
    with tempfile.TemporaryDirectory(prefix="automix-validate-") as tmp:
        for case in cases:
            paths, facts = make_case(case, Path(tmp) / case, duration_s=duration_s)
            out["cases"].append(facts)
            for style in styles:
                t = time.perf_counter()
                report = mix_session(paths, style=style, output=Path(tmp) / case / f"mix-{style.name}.wav",
                                     optimize_steps=optimize_steps)
                say(f"{case} -> {style.name}: {report['status']} ({time.perf_counter() - t:.1f} s)")
                out["runs"].append({
                    "case": case, "style": style.name, "status": report["status"], "targets": report["targets"],
                    "stems": [{k: s[k] for k in ("path", "role", "role_source", "input_gain_db", "gain_db", "pan")}
                              for s in report["stems"]],
                    "master": {k: report["master"][k] for k in ("gain_db", "limiter_ceiling_db", "width",
                                                                "eq_moves_db", "iterations", "converged")},
                    "warnings": report["warnings"],
                })
    for r in out["runs"]:
        for s in r["stems"]:
            s["path"] = Path(s["path"]).name
    out["hard_failures"] = sum(1 for r in out["runs"] for k in HARD if not r["targets"][k]["pass"])
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# ------------------------------------------------------------------------------------------------ printing

def _mark(t: dict, hard: bool) -> str:
    return "pass" if t["pass"] else ("FAIL" if hard else "miss")


def _bal(d: dict | None) -> str:
    return "n/a" if not d else "/".join(f"{d[k]:.2f}" for k in ("low", "mid", "high"))


def _v(x, digits=2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def validation_lines(result: dict, *, verbose: bool = False) -> list[str]:
    """What ``automix validate`` prints: per style its targets, then per case the measured values and marks."""
    pred = "prior-only predictor" if result["predictor"] == "priors-only" else f"predictor {result['predictor'][:12]}"
    n_cases, n_styles = len(result["cases"]), len({r["style"] for r in result["runs"]})
    lines = [f"automix validate: {n_cases} case{'s' * (n_cases != 1)} x {n_styles} style{'s' * (n_styles != 1)}, "
             f"{result['duration_s']:g} s stems, {pred}, refinement {result['optimize_steps']} steps", "cases:"]
    for c in result["cases"]:
        st = c["stems"]
        lines.append(f"  {c['case']:<19} {c['description']}; stems {min(s['lufs'] for s in st):.1f}.."
                     f"{max(s['lufs'] for s in st):.1f} LUFS, peaks up to {max(s['peak_dbfs'] for s in st):+.1f} dBFS, "
                     f"crest {min(s['crest_db'] for s in st):.1f}..{max(s['crest_db'] for s in st):.1f} dB")
    head = f"  {'case':<19}  {'loudness LUFS':>14}  {'true peak dBTP':>15}  {'centroid Hz':>12}  {'M/S':>9}  {'balance l/m/h':>20}"
    for style in dict.fromkeys(r["style"] for r in result["runs"]):
        runs = [r for r in result["runs"] if r["style"] == style]
        t = runs[0]["targets"]
        lu, tp, c, ms, b = (t[k] for k in ("integrated_lufs", "true_peak_dbtp", "spectral_centroid_hz", "ms_ratio",
                                           "band_balance"))
        lines += ["", f"{style}: targets loudness {lu['target']:.1f}±{lu['tolerance']:g} LUFS [hard], true peak <= "
                      f"{tp['ceiling']:.1f} dBTP [hard], centroid {c['target']:.0f} Hz ±{100 * c['tolerance_rel']:g}%, "
                      f"M/S {ms['target']:.2f}±{ms['tolerance']:g}, balance {_bal(b['target'])} ±{b['tolerance']:g}",
                  head]
        for r in runs:
            t = r["targets"]
            cells = [(f"{_v(t['integrated_lufs']['final'])} {_mark(t['integrated_lufs'], True)}", 14),
                     (f"{_v(t['true_peak_dbtp']['final'])} {_mark(t['true_peak_dbtp'], True)}", 15),
                     (f"{_v(t['spectral_centroid_hz']['final'], 0)} {_mark(t['spectral_centroid_hz'], False)}", 12),
                     (f"{_v(t['ms_ratio']['final'])} {_mark(t['ms_ratio'], False)}", 9),
                     (f"{_bal(t['band_balance']['final'])} {_mark(t['band_balance'], False)}", 20)]
            lines.append(f"  {r['case']:<19}" + "".join(f"  {s:>{w}}" for s, w in cells))
            if verbose:
                lines += [f"      {label} missed: {t[k]['why']}" for k, label in SOFT_TARGETS.items() if t[k].get("why")]
                for s in r["stems"]:
                    lines.append(f"      {s['path']:<16} {s['role']:<10} ({s['role_source']}) input {s['input_gain_db']:+.1f} dB,"
                                 f" strip gain {s['gain_db']:+.1f} dB, pan {s['pan']:+.2f}")
                m = r["master"]
                lines.append(f"      master: gain {m['gain_db']:+.2f} dB, ceiling {m['limiter_ceiling_db']:.2f} dB, "
                             f"width {m['width']:.2f}, EQ {m['eq_moves_db']}, {len(m['iterations'])} loop iterations"
                             f"{'' if m['converged'] else ' (not converged)'}")
                for it in m["iterations"]:
                    peak = "not metered" if it["true_peak_dbtp"] is None else f"{it['true_peak_dbtp']:.2f} dBTP"
                    lines.append(f"        gain {_v(it['gain_db'])} dB -> {_v(it['lufs'])} LUFS, true peak {peak}, "
                                 f"M/S {_v(it['ms_ratio'])}")
                lines += [f"      warning: {w}" for w in r["warnings"]]
    runs = result["runs"]
    soft = {k: sum(r["targets"][k]["pass"] for r in runs) for k in SOFT_TARGETS}
    hard_ok = sum(all(r["targets"][k]["pass"] for k in HARD) for r in runs)
    lines += ["", f"{len(runs)} mix{'es' * (len(runs) != 1)}: hard targets met in {hard_ok}/{len(runs)}; soft targets met: centroid "
                  f"{soft['spectral_centroid_hz']}/{len(runs)}, M/S {soft['ms_ratio']}/{len(runs)}, balance "
                  f"{soft['band_balance']}/{len(runs)}; {result['seconds']:.0f} s",
              "PASS: every hard target met" if not result["hard_failures"]
              else f"FAIL: {result['hard_failures']} hard target(s) missed"]
    return lines
