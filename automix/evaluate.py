"""``automix evaluate``: four systems side by side over a folder of sessions, per target.

Systems (every one mixes the same stems; all outputs go to a temporary folder):

=====  =====================================================================================
(a)    **raw + gain**: the stems summed as recorded (neutral strips, no input normalisation)
       and one master gain to the style loudness; nothing else, so its true peak is whatever
       that gain gives.
(b)    **equal loudness + loop**: every stem normalised to -23 LUFS through a neutral strip, a
       neutral master (no compressor, flat EQ, width 1) and the master loop (gain into the soft
       clipper and true-peak limiter); no tonal match.
(c)    **predictor only**: the predicted strips and master chain rendered as predicted (no tonal
       match, no loop), then a plain output gain to the style loudness, so the soft targets are
       comparable; its true peak is not controlled.
(d)    **full**: ``automix mix`` as shipped (predictor, ``--optimize`` refinement steps, tonal
       match, master loop).
=====  =====================================================================================

Per target and system: median, 95th percentile (numpy's linear interpolation) and worst over
the sessions, and the share of sessions within the style's tolerance. For the soft targets,
systems (c) and (d) also count the sessions on which their error is below both baselines' errors
on that same session (:func:`beats_baselines`): a paired view of "better than the baselines"
that the medians, taken over different sessions per system, do not give. Errors:

* ``loudness_error_lu`` ``|LUFS - target|`` (hard); ``true_peak_over_ceiling_db`` true peak
  (BS.1770-4, 4x) minus the ceiling, signed (negative = under; hard);
* ``centroid_error_rel`` ``|centroid / target - 1|``; ``ms_error_abs`` ``|M/S - target|``;
  ``band_balance_error_max`` the largest ``|share - target|`` over low/mid/high (soft);
* ``balance_error_db`` (sessions with a ``truth.json``): the applied gain of each stem is measured,
  the stem soloed through its strip against the stem as recorded (:func:`soloed_gains_db`: every
  stage counts, compression and saturation included; 0 for (a)); relative gains are those minus
  their mean over the stems, likewise the reference gains; the error is the RMS over stems of the
  difference (dB). The *equal-loudness baseline* is the same error for every stem at the same level after
  loudness normalisation (its ``input_gain_db`` alone); ``below_equal_loudness`` counts the sessions
  where a system's error is strictly below it.

The engineer's envelope (:mod:`automix.envelope`, the style's limits), judged on each system's finished
settings by the independent checker: the share of stems and of masters inside every limit; per stem the
largest EQ section (|dB|), the EQ's fighting (dB) and the width (median and max over all stems of all
sessions); the master's mono fold-down loss (LU, measured on the delivered file; median and max over
sessions). System (a)'s strips are neutral and its master a plain gain; its stem levels are judged
against the role priors like every other system's.

Invariance, with system (d) *without* refinement (its pipeline minus the gradient steps):

* level: the stems again with fresh random +-12 dB offsets (written as float WAVs);
* permutation of the mix: the stem list shuffled (``mix_session`` sorts stems by name, so this
  checks that canonical order holds end to end);
* permutation of the predictor: its raw outputs for the stems fed in shuffled order, un-shuffled.

Each is a null residual ``10 log10(sum (a - b)^2 / sum a^2)`` in dB; :data:`NULL_FLOOR_DB`
stands for bit-identical.
"""
from __future__ import annotations

import json
import math
import re
import random
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from automix.errors import AutomixError, SessionError, UsageError
from automix.styles import StyleTargets

if TYPE_CHECKING:
    from automix.settings import MixSettings

SCHEMA = "automix.evaluate/1"
SYSTEMS = {
    "a": "raw stems + one gain to the target loudness",
    "b": "equal-loudness stems, neutral strips and master + master loop",
    "c": "predictor only (as predicted, plain gain to the target loudness)",
    "d": "predictor + refinement + tonal match + master loop (automix mix)",
}
#: (key, label, hard) in report order
METRICS = (
    ("loudness_error_lu", "loudness error (LU)", True),
    ("true_peak_over_ceiling_db", "true peak - ceiling (dB)", True),
    ("centroid_error_rel", "centroid error (rel)", False),
    ("ms_error_abs", "M/S error (abs)", False),
    ("band_balance_error_max", "band balance error (max)", False),
)
STATS = ("median", "p95", "worst")
#: a null residual this low (or -inf) means bit-identical
NULL_FLOOR_DB = -200.0
LEVEL_OFFSET_DB = 12.0
LEVEL_LIMIT_DB = -40.0
PERMUTATION_LIMIT_DB = -60.0
#: the envelope columns: (key, label) in report order
ENVELOPE_METRICS = (
    ("stems_inside", "stems inside the envelope"),
    ("masters_inside", "masters inside the envelope"),
    ("eq_max_abs_db", "largest stem EQ section (|dB|)"),
    ("fighting_db", "stem EQ fighting (dB)"),
    ("stem_width", "stem width"),
    ("folddown_loss_db", "mono fold-down loss (LU)"),
    ("below_equal_loudness", "stem balance below equal loudness"),
)
#: the balance goals: (d)'s median stem balance error, and its share of sessions below the equal-loudness one
BALANCE_MEDIAN_LIMIT_DB = 2.0
BELOW_EQUAL_LOUDNESS_MIN = 0.8
#: "clearly better" than the baselines: median error at most this share of the better baseline's
CLEARLY_BETTER = 0.5
#: the soft targets "clearly better" is asked of: M/S is left out, because the envelope caps the width by design
#: (a target of 0.6-0.8 against stems panned by their roles is out of reach, and the report says so)
CLEARLY_BETTER_METRICS = ("centroid_error_rel", "band_balance_error_max")
#: (d)'s centroid within tolerance on at least this share of sessions
CENTROID_PASS_MIN = 0.9
#: the report's soft-target keys by metric, and the words with which a miss names the envelope limit that bound it
REPORT_TARGETS = {"centroid_error_rel": "spectral_centroid_hz", "ms_error_abs": "ms_ratio",
                  "band_balance_error_max": "band_balance"}
ENVELOPE_REASON = re.compile(r"inside the envelope|\blimit\b")
#: the baselines every "better than" compares with, and the systems compared with them session by session
BASELINES = ("a", "b")
PAIRED = ("c", "d")


# ------------------------------------------------------------------------------------------------ pure helpers

def stats(values: Sequence[float]) -> dict:
    """``{"median", "p95", "worst", "n"}`` of ``values`` (worst = the largest); NaN for an empty list."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if not x.size:
        return {"median": math.nan, "p95": math.nan, "worst": math.nan, "n": 0}
    with np.errstate(invalid="ignore"):
        p95 = float(np.percentile(x, 95))
    return {"median": float(np.median(x)), "p95": p95 if not math.isnan(p95) else math.inf,
            "worst": float(np.max(x)), "n": int(x.size)}


def target_errors(meters: dict, style: StyleTargets) -> dict:
    """Per-target errors of a mix's final meters (see the module docstring); a missing reading is ``inf``."""
    def get(key):
        v = meters.get(key)
        return math.inf if v is None else float(v)

    want = dict(zip(("low", "mid", "high"), style.frequency_balance.as_tuple()))
    bands = meters.get("band_balance") or {}
    return {
        "loudness_error_lu": abs(get("integrated_lufs") - style.lufs),
        "true_peak_over_ceiling_db": get("true_peak_dbtp") - style.true_peak_ceiling_dbtp,
        "centroid_error_rel": abs(get("spectral_centroid_hz") / style.spectral_centroid_hz - 1.0),
        "ms_error_abs": abs(get("ms_ratio") - style.stereo_ms_ratio),
        "band_balance_error_max": max((abs(float(bands[k]) - want[k]) if bands.get(k) is not None else math.inf)
                                      for k in want),
    }


def target_passes(errors: dict, style: StyleTargets) -> dict:
    """Whether each error is within the style's tolerance."""
    tol = style.tolerances
    limits = {"loudness_error_lu": tol.lufs_lu, "true_peak_over_ceiling_db": tol.true_peak_db,
              "centroid_error_rel": tol.centroid_rel, "ms_error_abs": tol.ms_abs,
              "band_balance_error_max": tol.balance_abs}
    return {k: errors[k] <= limits[k] for k in limits}


def beats_baselines(rows: Sequence[dict], key: str, system: str, baselines: Sequence[str] = BASELINES
                    ) -> tuple[int, int]:
    """``(wins, n)``: sessions where ``system``'s ``key`` error is strictly below every baseline's on that session.

    ``n`` counts the sessions where the system and every baseline were measured (a failed system is
    left out, not counted as a loss).
    """
    wins = n = 0
    for r in rows:
        got = r["systems"]
        if system not in got or any(b not in got for b in baselines):
            continue
        n += 1
        wins += all(got[system]["errors"][key] < got[b]["errors"][key] for b in baselines)
    return wins, n


def balance_error_db(applied_db: Sequence[float], reference_db: Sequence[float]) -> float:
    """RMS over stems of (applied - mean applied) - (reference - mean reference), dB.

    Only relative levels count: adding a constant to every applied (or reference) gain changes nothing.
    """
    a = np.asarray(applied_db, np.float64)
    r = np.asarray(reference_db, np.float64)
    if a.shape != r.shape or a.ndim != 1 or not a.size:
        raise ValueError(f"need two equal, non-empty lists of gains, got {a.shape} and {r.shape}")
    d = (a - a.mean()) - (r - r.mean())
    return float(np.sqrt(np.mean(d * d)))


def envelope_metrics(settings, roles: Sequence[str], style: StyleTargets, mono: Sequence[bool],
                     folddown_loss_db: float | None) -> dict:
    """One system's envelope numbers on one session, from its finished settings (see the module docstring).

    ``{"stems_inside", "stems", "master_inside", "eq_max_abs_db": [per stem], "fighting_db": [per stem],
    "stem_width": [per stem], "folddown_loss_db", "violations": [(stem index or "master", limit), ...]}``.
    """
    from automix.envelope import eq_section_gains_db, settings_measures

    found = settings_measures(settings, list(roles), style, list(mono), folddown_loss_db=folddown_loss_db)
    inside = [not any(x.violated for x in ms) for ms in found["stems"]]
    eq_max, fighting, widths = [], [], []
    for s, ms in zip(settings.stems, found["stems"]):
        p = {x.plugin: x.params for x in s.chain}
        eq_max.append(max((abs(g) for g in eq_section_gains_db(p["eq"]).values()), default=0.0) if "eq" in p else 0.0)
        fighting.append(next((x.value for x in ms if x.control == "eq.fighting_db"), 0.0))
        widths.append(float(p["stereo_width"]["width"]) if "stereo_width" in p else 1.0)
    return {
        "stems_inside": int(sum(inside)), "stems": len(inside),
        "master_inside": not any(x.violated for x in found["master"]),
        "eq_max_abs_db": eq_max, "fighting_db": fighting, "stem_width": widths,
        "folddown_loss_db": folddown_loss_db if folddown_loss_db is not None else math.nan,
        "violations": [[i, x.limit] for i, ms in enumerate(found["stems"]) for x in ms if x.violated]
                      + [["master", x.limit] for x in found["master"] if x.violated],
    }


def envelope_summary(rows: Sequence[dict]) -> dict:
    """Per envelope column and system: shares (``share``, ``count``, ``n``) or ``median``/``max``/``n`` (pooled
    over all stems for the per-stem columns, over sessions for the fold-down loss)."""
    out: dict = {}
    for key, label in ENVELOPE_METRICS:
        m = {"label": label}
        for sysk in SYSTEMS:
            got = [r["systems"][sysk] for r in rows if sysk in r["systems"]]
            env = [g["envelope"] for g in got if "envelope" in g]
            if key == "stems_inside":
                count, n = sum(e["stems_inside"] for e in env), sum(e["stems"] for e in env)
            elif key == "masters_inside":
                count, n = sum(bool(e["master_inside"]) for e in env), len(env)
            elif key == "below_equal_loudness":
                flags = [g["below_equal_loudness"] for g in got if "below_equal_loudness" in g]
                count, n = sum(flags), len(flags)
            else:
                vals = ([e[key] for e in env] if key == "folddown_loss_db" else [v for e in env for v in e[key]])
                x = np.asarray([v for v in vals if v is not None and not math.isnan(v)], np.float64)
                m[sysk] = ({"median": float(np.median(x)), "max": float(np.max(x)), "n": int(x.size)} if x.size
                           else {"median": math.nan, "max": math.nan, "n": 0})
                continue
            m[sysk] = {"share": count / n if n else math.nan, "count": int(count), "n": int(n)}
        out[key] = m
    return out


def null_residual_db(reference: np.ndarray, test: np.ndarray) -> float:
    """``10 log10(sum (test - reference)^2 / sum reference^2)``, floored at :data:`NULL_FLOOR_DB`."""
    ref = np.asarray(reference, np.float64)
    tst = np.asarray(test, np.float64)
    if ref.shape != tst.shape:
        n = min(ref.shape[-1], tst.shape[-1])
        extra = float(np.sum(ref[..., n:] ** 2) + np.sum(tst[..., n:] ** 2))
        ref, tst = ref[..., :n], tst[..., :n]
    else:
        extra = 0.0
    err = float(np.sum((tst - ref) ** 2)) + extra
    energy = float(np.sum(ref ** 2))
    if err == 0.0:
        return NULL_FLOOR_DB
    if energy == 0.0:
        return math.inf
    return max(NULL_FLOOR_DB, 10.0 * math.log10(err / energy))


# ------------------------------------------------------------------------------------------------ sessions

@dataclass
class EvalSession:
    name: str
    folder: str
    stems: list[str]
    truth: dict | None = None
    notes: list[str] = field(default_factory=list)


def _read_truth(folder: Path, stems: Sequence[str]) -> tuple[dict | None, str | None]:
    """``{file name: reference_gain_db}`` from ``truth.json``, or ``(None, why not)``."""
    path = folder / "truth.json"
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text())
        entries = data["stems"]
        gains = {name: float(entry["reference_gain_db"]) for name, entry in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return None, f"{path}: unreadable ({type(e).__name__}: {e}); balance error skipped"
    missing = [Path(s).name for s in stems if Path(s).name not in gains]
    if missing:
        return None, f"{path}: no reference gain for {missing[0]}; balance error skipped"
    return gains, None


def find_sessions(folder: str | Path) -> tuple[list[EvalSession], list[str]]:
    """The sessions of a folder of session folders (or of one session folder), with discovery notes."""
    from automix.discovery import discover_sessions

    root = Path(folder)
    if not root.is_dir():
        raise SessionError(f"{folder}: no such folder; give a folder of session folders (or one session "
                           "folder), or no DIR to evaluate generated held-out sessions", code="E_MISSING")
    found = discover_sessions(root)
    if not found.sessions:
        raise SessionError(f"{folder}: no session found (no audio files in it or in its subfolders)",
                           code="E_EMPTY")
    sessions = []
    for s in found.sessions:
        truth, note = _read_truth(Path(s.folder), s.stems)
        sessions.append(EvalSession(s.name, s.folder, list(s.stems), truth, [note] if note else []))
    return sessions, [n for n in found.notes if "truth.json" not in n]


# ------------------------------------------------------------------------------------------------ systems

def _render_raw(stems: Sequence[str], style: StyleTargets, work: Path) -> dict:
    """System (a): neutral strips, no normalisation, one master gain measured then applied; returns meters."""
    from automix.audio_io import probe
    from automix.mixer import session_rate
    from automix.render import render_to_file
    from automix.settings import STEM_CHAIN, MixSettings, PluginSettings, StemSettings, neutral_chain
    from automix.plugins import get_plugin

    stems = sorted(stems, key=lambda p: (Path(p).name.lower(), p))  # mix_session's canonical order
    sr = session_rate([probe(p).sample_rate for p in stems])
    strips = [StemSettings(p, neutral_chain(STEM_CHAIN), 0.0) for p in stems]
    raw = render_to_file(MixSettings(sr, strips, []), work / "a_raw.wav", subtype="FLOAT")
    gain = style.lufs - raw["integrated_lufs"] if math.isfinite(raw["integrated_lufs"]) else 0.0
    spec = get_plugin("gain").spec("gain_db")
    master = [PluginSettings("gain", {"gain_db": float(np.clip(gain, spec.minimum, spec.maximum))})]
    # float output: the meters see the unclipped sum, and so does anyone who reads the file
    settings = MixSettings(sr, strips, master)
    meters = render_to_file(settings, work / "a.wav", subtype="FLOAT")
    (work / "a_raw.wav").unlink()
    return meters, settings


def soloed_gains_db(settings: MixSettings, recorded_lufs: Sequence[float]) -> dict[str, float]:
    """Each stem's gain through its strip, measured: the integrated loudness of the stem soloed through its
    chain (normalisation included, pedalboard engine) minus its loudness as recorded (dB), by file name.

    Compression, make-up, saturation, EQ and pan all count, as a listener hears the stem in the mix. A stem
    silent as recorded (or through its strip) is left out.
    """
    from automix.engines.pedalboard_engine import render
    from automix.meters.loudness import LoudnessAccumulator
    from automix.settings import MixSettings

    out = {}
    for stem, before in zip(settings.stems, recorded_lufs):
        if before is None or not math.isfinite(before):
            continue
        meter = LoudnessAccumulator(settings.sample_rate, 2)
        meter.process(render(MixSettings(settings.sample_rate, [stem], [])).astype(np.float64))
        after = meter.result()["integrated_lufs"]
        if math.isfinite(after):
            out[Path(stem.path).name] = float(after - before)
    return out


def _gains(report: dict, settings: MixSettings) -> dict[str, float]:
    return soloed_gains_db(settings, [s["loudness_lufs"] for s in report["stems"]])


def _predictor_permutation_db(report: dict, style: StyleTargets, rng: random.Random) -> float:
    """Null residual of the predictor's outputs for shuffled stems, un-shuffled, against the canonical order."""
    from automix.features import StemFeatures
    from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten
    from automix.mixer import predict_settings

    paths = [s["path"] for s in report["stems"]]
    feats = [StemFeatures(s["path"], s["loudness_lufs"] if s["loudness_lufs"] is not None else -math.inf,
                          s["features"], s["silent"]) for s in report["stems"]]
    roles = [s["role"] for s in report["stems"]]
    order = list(range(len(paths)))
    if len(order) > 1:
        while order == sorted(order):
            rng.shuffle(order)

    def units(idx):
        stems, master = predict_settings([feats[i] for i in idx], [paths[i] for i in idx], [roles[i] for i in idx],
                                         style)
        return np.array([flatten(c, STEM_SLOTS) for c in stems]), np.array(flatten(master, MASTER_SLOTS))

    s0, m0 = units(list(range(len(paths))))
    s1, m1 = units(order)
    back = np.empty_like(s1)
    back[order] = s1
    return null_residual_db(np.concatenate([s0.ravel(), m0]), np.concatenate([back.ravel(), m1]))


def _read_mix(path: Path) -> np.ndarray:
    import soundfile as sf

    return sf.read(str(path), dtype="float64", always_2d=True)[0].T


def _offset_copy(stems: Sequence[str], folder: Path, rng: np.random.Generator) -> list[str]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in stems:
        x, sr = sf.read(p, dtype="float32", always_2d=True)
        q = folder / (Path(p).stem + ".wav")
        sf.write(str(q), x * np.float32(10 ** (rng.uniform(-LEVEL_OFFSET_DB, LEVEL_OFFSET_DB) / 20)), sr,
                 subtype="FLOAT")
        out.append(str(q))
    return out


def evaluate_session(session: EvalSession, style: StyleTargets, work: Path, *, optimize_steps: int,
                     invariance: bool = True, progress: Callable[[str], None] | None = None) -> dict:
    """Run the four systems (and the invariance checks) on one session; returns its row."""
    from automix.envelope import folddown_loss_file
    from automix.mixer import Stages, mix_session
    from automix.settings import MixSettings

    work.mkdir(parents=True, exist_ok=True)
    row: dict = {"session": session.name, "stems": len(session.stems), "systems": {}, "failures": [],
                 "notes": list(session.notes)}
    timings = {}
    variants = {
        "b": dict(stages=Stages(predictor=False, tone_match=False)),
        "c": dict(stages=Stages(level_match=False, tone_match=False, closed_loop=False)),
        "d": dict(optimize_steps=optimize_steps),
    }
    reports: dict[str, dict] = {}
    finished: dict = {}  # system -> (settings, mono fold-down loss)
    for key in SYSTEMS:
        t0 = time.perf_counter()
        try:
            if key == "a":
                meters, settings = _render_raw(session.stems, style, work)
                gains = {Path(p).name: 0.0 for p in session.stems}
                finished[key] = (settings, folddown_loss_file(str(work / "a.wav")))
            else:
                rep = mix_session(session.stems, style=style, output=work / f"{key}.wav",
                                  settings_out=work / f"{key}.settings.json", **variants[key])
                reports[key] = rep
                made = MixSettings.load(work / f"{key}.settings.json")
                meters, gains = rep["final_meters"], _gains(rep, made)
                finished[key] = (made, rep["master"]["moves"]["mono_folddown_loss_db"])
        except AutomixError as e:
            row["failures"].append({"system": key, "code": e.code, "error": str(e)})
            continue
        errors = target_errors(meters, style)
        entry = {"errors": errors, "pass": target_passes(errors, style)}
        if key in reports:  # the reasons the report gives for its soft misses
            entry["why"] = {k: t["why"] for k, t in reports[key]["targets"].items() if t.get("why")}
        if session.truth is not None:
            names = sorted(gains)
            entry["balance_error_db"] = balance_error_db([gains[n] for n in names], [session.truth[n] for n in names])
        row["systems"][key] = entry
        timings[key] = time.perf_counter() - t0
    _add_envelope(row, session, reports, finished, style)
    if invariance and "d" in reports:
        t0 = time.perf_counter()
        seed = zlib.crc32(session.name.encode())
        try:
            base_path = work / "d.wav"
            if optimize_steps:
                base_path = work / "d0.wav"
                mix_session(session.stems, style=style, output=base_path)
            base = _read_mix(base_path)
            moved = _offset_copy(session.stems, work / "offset", np.random.default_rng(seed))
            mix_session(moved, style=style, output=work / "d0_offset.wav")
            row["level_null_db"] = null_residual_db(base, _read_mix(work / "d0_offset.wav"))
            shuffled = list(session.stems)
            random.Random(seed).shuffle(shuffled)
            mix_session(shuffled, style=style, output=work / "d0_shuffled.wav")
            row["permutation_mix_null_db"] = null_residual_db(base, _read_mix(work / "d0_shuffled.wav"))
            row["permutation_predictor_null_db"] = _predictor_permutation_db(reports["d"], style, random.Random(seed))
        except AutomixError as e:
            row["failures"].append({"system": "invariance", "code": e.code, "error": str(e)})
        timings["invariance"] = time.perf_counter() - t0
    row["seconds"] = {k: round(v, 2) for k, v in timings.items()}
    if progress is not None:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        fails = "".join(f"; {f['system']} failed: {f['error']}" for f in row["failures"])
        progress(f"{session.name} ({len(session.stems)} stems): {parts}{fails}")
    return row


def _add_envelope(row: dict, session: EvalSession, reports: dict, finished: dict, style: StyleTargets) -> None:
    """Each system's envelope numbers, and its balance error against the equal-loudness baseline's."""
    from automix.envelope import stems_mono

    if not reports:  # roles and mono flags come from a mixed system's report (all systems share the stems)
        return
    any_report = next(iter(reports.values()))
    roles = [s["role"] for s in any_report["stems"]]
    mono = stems_mono([s["features"] for s in any_report["stems"]], style.envelope)
    for key, (settings, fold) in finished.items():
        if key in row["systems"]:
            row["systems"][key]["envelope"] = envelope_metrics(settings, roles, style, mono, fold)
    if session.truth is not None:
        normalised = {Path(s["path"]).name: float(s["input_gain_db"]) for s in any_report["stems"]}
        names = sorted(normalised)
        equal = balance_error_db([normalised[n] for n in names], [session.truth[n] for n in names])
        row["equal_loudness_error_db"] = equal
        for entry in row["systems"].values():
            if "balance_error_db" in entry:
                entry["below_equal_loudness"] = bool(entry["balance_error_db"] < equal)


# ------------------------------------------------------------------------------------------------ the run

def _summarise(rows: list[dict], style: StyleTargets) -> dict:
    metrics = {}
    for key, label, hard in METRICS:
        m = {"label": label, "hard": hard}
        for sysk in SYSTEMS:
            vals = [r["systems"][sysk]["errors"][key] for r in rows if sysk in r["systems"]]
            passes = [r["systems"][sysk]["pass"][key] for r in rows if sysk in r["systems"]]
            m[sysk] = {**stats(vals), "pass_rate": (sum(passes) / len(passes)) if passes else math.nan}
            if not hard and sysk in PAIRED:
                m[sysk]["beats_baselines"] = dict(zip(("wins", "n"), beats_baselines(rows, key, sysk)))
        metrics[key] = m
    bal = {"label": "stem balance error (dB)", "hard": False}
    for sysk in SYSTEMS:
        bal[sysk] = stats([r["systems"][sysk]["balance_error_db"] for r in rows
                           if "balance_error_db" in r["systems"].get(sysk, {})])
    metrics["balance_error_db"] = bal
    inv = {}
    for key, limit in (("level_null_db", LEVEL_LIMIT_DB), ("permutation_mix_null_db", PERMUTATION_LIMIT_DB),
                       ("permutation_predictor_null_db", PERMUTATION_LIMIT_DB)):
        s = stats([r[key] for r in rows if key in r])
        inv[key] = {**s, "limit": limit, "pass": bool(s["n"]) and s["worst"] <= limit}
    explained = {}
    for key in ("ms_error_abs", "band_balance_error_max"):
        count, n = explained_share(rows, key)
        explained[key] = count / n if n else math.nan
    return {"metrics": metrics, "envelope": envelope_summary(rows), "invariance": inv, "explained": explained}


def explained_share(rows: Sequence[dict], metric: str, system: str = "d") -> tuple[int, int]:
    """Sessions where ``system`` meets soft target ``metric`` or its report names the envelope limit that bound
    the miss (:data:`ENVELOPE_REASON`): ``(count, n)``."""
    count = n = 0
    for r in rows:
        got = r["systems"].get(system)
        if got is None:
            continue
        n += 1
        why = got.get("why", {}).get(REPORT_TARGETS[metric], "")
        count += bool(got["pass"][metric]) or bool(ENVELOPE_REASON.search(why))
    return count, n


@dataclass(frozen=True)
class Goal:
    """One acceptance goal, as data: where its value is read, what it must be, and how it is shown.

    ``source`` names the summary part the value comes from: ``metrics`` (``metrics[metric][system][statistic]``),
    ``explained`` (``explained[metric]``, system d), ``envelope`` (``envelope[metric][system][statistic]``),
    ``invariance`` (``invariance[metric][statistic]``) or ``better`` (``system``'s median of ``metric`` over the
    better baseline's). ``fmt`` picks the number format: ``share`` (%), ``rel`` (relative error), ``ratio``
    ("x"), ``null_db`` (a null residual) or ``plain``. ``at_least``: the value must reach the limit from below.
    """

    text: str
    source: str
    metric: str
    system: str | None
    statistic: str
    limit: float
    fmt: str = "plain"
    at_least: bool = False


def goal_specs() -> list[Goal]:
    """The acceptance goals of an evaluation, in report order."""
    label = dict((k, l.split(" (")[0]) for k, l, _ in METRICS)
    goals = [Goal("(c) median centroid error <= 10%", "metrics", "centroid_error_rel", "c", "median", 0.10, "rel"),
             Goal("(d) median centroid error <= 5%", "metrics", "centroid_error_rel", "d", "median", 0.05, "rel"),
             Goal(f"(d) centroid within tolerance on >= {100 * CENTROID_PASS_MIN:.0f}% of sessions", "metrics",
                  "centroid_error_rel", "d", "pass_rate", CENTROID_PASS_MIN, "share", at_least=True)]
    goals += [Goal(f"(d) {label[key]} within tolerance or the envelope's limit named, every session", "explained",
                   key, "d", "share", 1.0, "share", at_least=True) for key in ("ms_error_abs", "band_balance_error_max")]
    goals += [Goal(f"({sysk}) {label[key]}: median <= {CLEARLY_BETTER:g} x better of (a), (b)", "better", key, sysk,
                   "median", CLEARLY_BETTER, "ratio")
              for sysk in ("c", "d") for key, _, hard in METRICS if not hard and key in CLEARLY_BETTER_METRICS]
    goals += [Goal("(d) worst loudness error <= 0.1 LU", "metrics", "loudness_error_lu", "d", "worst", 0.1),
              Goal("(d) worst true peak - ceiling <= 0 dB", "metrics", "true_peak_over_ceiling_db", "d", "worst", 0.0)]
    goals += [Goal(f"({sysk}) envelope: {what} inside = 100%", "envelope", key, sysk, "share", 1.0, "share",
                   at_least=True)
              for sysk in ("c", "d") for key, what in (("stems_inside", "stems"), ("masters_inside", "masters"))]
    goals += [Goal(f"(d) stem balance error median <= {BALANCE_MEDIAN_LIMIT_DB:g} dB", "metrics", "balance_error_db",
                   "d", "median", BALANCE_MEDIAN_LIMIT_DB),
              Goal(f"(d) stem balance error below equal loudness on >= {100 * BELOW_EQUAL_LOUDNESS_MIN:.0f}% of "
                   "sessions", "envelope", "below_equal_loudness", "d", "share", BELOW_EQUAL_LOUDNESS_MIN, "share",
                   at_least=True)]
    goals += [Goal("level invariance (worst) <= -40 dB", "invariance", "level_null_db", None, "worst", LEVEL_LIMIT_DB,
                   "null_db"),
              Goal("permutation invariance, mix (worst) <= -60 dB", "invariance", "permutation_mix_null_db", None,
                   "worst", PERMUTATION_LIMIT_DB, "null_db"),
              Goal("permutation invariance, predictor (worst) <= -60 dB", "invariance",
                   "permutation_predictor_null_db", None, "worst", PERMUTATION_LIMIT_DB, "null_db")]
    return goals


def _goal_value_of(goal: Goal, summary: dict) -> float:
    if goal.source == "metrics":
        return summary["metrics"][goal.metric][goal.system][goal.statistic]
    if goal.source == "explained":
        return summary["explained"][goal.metric]
    if goal.source == "envelope":
        return summary["envelope"][goal.metric][goal.system][goal.statistic]
    if goal.source == "invariance":
        return summary["invariance"][goal.metric][goal.statistic]
    m = summary["metrics"][goal.metric]  # "better": the system's median over the better baseline's
    best, mine = min(m[b]["median"] for b in BASELINES), m[goal.system]["median"]
    return mine / best if best > 0 else (0.0 if mine == 0 else math.inf)


def _goals(summary: dict, invariance: bool = True) -> list[dict]:
    """The acceptance goals judged on these sessions: ``{goal, value, limit, format, pass}`` each. Envelope goals
    only when the summary has the envelope part; invariance goals only when the checks ran."""
    out = []
    for g in goal_specs():
        if (g.source == "envelope" and not summary.get("envelope")) or (g.source == "invariance" and not invariance):
            continue
        value = _goal_value_of(g, summary)
        ok = value >= g.limit if g.at_least else value <= g.limit
        out.append({"goal": g.text, "value": value, "limit": g.limit, "format": g.fmt,
                    "pass": bool(ok) and not math.isnan(value)})
    return out


def evaluate(folder: str | Path | None = None, *, style: str | StyleTargets = "rock_punk", targets: str | None = None,
             count: int = 12, duration_s: float = 10.0, optimize_steps: int = 8, invariance: bool = True,
             progress: Callable[[str], None] | None = None) -> dict:
    """Evaluate the four systems on the sessions of ``folder`` (default: ``count`` generated held-out sessions).

    ``style`` is a preset name (or a style of the ``targets`` YAML) or a :class:`StyleTargets`.

    Generated sessions are written to a temporary folder and deleted afterwards; every mix is
    written to a temporary folder; nothing is written into ``folder``.

    Returns:
        The JSON-able result (schema :data:`SCHEMA`); non-finite numbers are left as floats.

    Raises:
        SessionError: ``folder`` is missing or holds no session (``E_MISSING``, ``E_EMPTY``).
        StyleError: an unknown style or a bad targets file.
    """
    from automix import __version__
    from automix.mixer import weights_fingerprint
    from automix.styles import get_style, load_style_targets

    if not isinstance(style, StyleTargets):
        style = get_style(style, load_style_targets(targets) if targets else None)

    say = progress or (lambda line: None)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="automix-evaluate-") as tmp:
        tmp = Path(tmp)
        if folder is None:
            from automix.sessiongen import write_sessions

            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise UsageError(f"--count must be a positive number of sessions, got {count!r}")
            say(f"generating {count} held-out sessions ({duration_s:g} s each) in a temporary folder")
            written = write_sessions(tmp / "sessions", count, held_out=True, duration_s=duration_s,
                                     progress=lambda info: say(f"  {Path(info['folder']).name}: seed {info['seed']}, "
                                                               f"{info['stems']} stems, {info['sample_rate']} Hz"))
            source = {"kind": "generated held-out", "path": None, "seeds": [w["seed"] for w in written],
                      "duration_s": duration_s}
            sessions, notes = find_sessions(tmp / "sessions")
        else:
            sessions, notes = find_sessions(folder)
            source = {"kind": "folder", "path": str(Path(folder).resolve()), "seeds": None, "duration_s": None}
        for n in notes:
            say(f"note: {n}")
        rows = []
        for i, s in enumerate(sessions):
            say(f"[{i + 1}/{len(sessions)}] {s.name}: mixing with systems a, b, c, d"
                + (" and the invariance checks" if invariance else ""))
            rows.append(evaluate_session(s, style, tmp / "work" / f"{i:04d}", optimize_steps=optimize_steps,
                                         invariance=invariance, progress=say))
    summary = _summarise(rows, style)
    return {
        "schema": SCHEMA,
        "automix_version": __version__,
        "style": style.name,
        "style_targets": {"lufs": style.lufs, "true_peak_ceiling_dbtp": style.true_peak_ceiling_dbtp,
                          "spectral_centroid_hz": style.spectral_centroid_hz,
                          "stereo_ms_ratio": style.stereo_ms_ratio,
                          "frequency_balance": dict(zip(("low", "mid", "high"), style.frequency_balance.as_tuple())),
                          "tolerances": style.tolerances.to_dict()},
        "predictor": weights_fingerprint(),
        "optimize_steps": optimize_steps,
        "source": source,
        "systems": dict(SYSTEMS),
        "sessions": len(rows),
        "sessions_with_truth": sum(1 for s in sessions if s.truth is not None),
        **summary,
        "goals": _goals(summary, invariance),
        "per_session": rows,
        "notes": notes + [n for r in rows for n in r["notes"]],
        "seconds": round(time.perf_counter() - t_start, 1),
    }


# ------------------------------------------------------------------------------------------------ printing

def _num(key: str, v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if key.endswith("_rel"):
        return f"{100 * v:.1f}%"
    if key.endswith("_null_db"):
        return "identical" if v <= NULL_FLOOR_DB else f"{v:.1f}"
    return f"{v:.3f}" if key in ("ms_error_abs", "band_balance_error_max") else f"{v:.2f}"


def table_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table (target x statistic, one column per system)."""
    header = ["target", "stat"] + [f"({k})" for k in SYSTEMS]
    rows = []
    tol = result["style_targets"]["tolerances"]
    tol_text = {"loudness_error_lu": f"±{tol['lufs_lu']:g} LU", "true_peak_over_ceiling_db": f"<= {tol['true_peak_db']:g}",
                "centroid_error_rel": f"±{100 * tol['centroid_rel']:g}%", "ms_error_abs": f"±{tol['ms_abs']:g}",
                "band_balance_error_max": f"±{tol['balance_abs']:g}"}
    for key, m in result["metrics"].items():
        label = m["label"] + (" [hard]" if m["hard"] else "")
        if key in tol_text:
            label += f" {tol_text[key]}"
        for i, st in enumerate(STATS):
            rows.append([label if i == 0 else "", st] + [_num(key, m[k][st]) for k in SYSTEMS])
        if key in tol_text:
            rows.append(["", "pass"] + [("n/a" if math.isnan(m[k]["pass_rate"]) else
                                         f"{round(m[k]['pass_rate'] * m[k]['n'])}/{m[k]['n']}") for k in SYSTEMS])
        else:
            rows.append(["", "sessions"] + [str(m[k]["n"]) for k in SYSTEMS])
        if any("beats_baselines" in m[k] for k in SYSTEMS):
            rows.append(["", "below " + " and ".join(f"({b})" for b in BASELINES)] + [
                f"{m[k]['beats_baselines']['wins']}/{m[k]['beats_baselines']['n']}" if "beats_baselines" in m[k]
                else "" for k in SYSTEMS])
    return header, rows


def _invariance_lines(result: dict) -> list[str]:
    names = {"level_null_db": "level (+-12 dB stem offsets), mix", "permutation_mix_null_db": "permutation, mix",
             "permutation_predictor_null_db": "permutation, predictor outputs"}
    out = []
    for key, v in result["invariance"].items():
        if not v["n"]:
            continue
        med, worst = (_num(key, v[st]) + ("" if v[st] <= NULL_FLOOR_DB else " dB") for st in ("median", "worst"))
        out.append(f"{names[key]}: null residual median {med}, worst {worst} (limit {v['limit']:g} dB) "
                   f"{'pass' if v['pass'] else 'MISS'}")
    return out


def _heading(result: dict) -> str:
    src = result["source"]
    where = (f"{result['sessions']} generated held-out sessions (seeds {src['seeds'][0]}..{src['seeds'][-1]}, "
             f"{src['duration_s']:g} s)" if src["kind"] != "folder" else f"{result['sessions']} session{'s' * (result['sessions'] != 1)} in {src['path']}")
    pred = ("prior-only predictor (no trained weights shipped)" if result["predictor"] == "priors-only"
            else f"predictor weights sha256 {result['predictor'][:12]}")
    return f"{where}, style {result['style']}, {pred}, refinement {result['optimize_steps']} steps"


def text_report(result: dict) -> str:
    """The human summary: systems, the table, invariance, goals."""
    header, rows = table_rows(result)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = [f"automix evaluate: {_heading(result)}", ""]
    lines += [f"  ({k}) {v}" for k, v in result["systems"].items()]
    lines.append("")
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    lines.append(fmt(header))
    for r in rows:
        if r[0]:
            lines.append("")
        lines.append(fmt(r))
    lines.append("")
    lines.append("invariance (system d without refinement):")
    lines += [f"  {x}" for x in _invariance_lines(result)] or ["  not measured"]
    lines.append("engineer's envelope and stem balance (shares: count/n; others: median / max):")
    erows = envelope_rows(result)
    ew = [max(len(r[i]) for r in erows) for i in range(len(erows[0]))] if erows else []
    lines += ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, ew)))
              for r in erows]
    lines.append("goals:")
    for g in result["goals"]:
        lines.append(f"  {'pass' if g['pass'] else 'MISS'}  {g['goal']}: {_goal_value(g)}")
    for f in (f for r in result["per_session"] for f in r["failures"]):
        lines.append(f"failed: {f['system']}: {f['error']}")
    for n in result["notes"]:
        lines.append(f"note: {n}")
    lines.append(f"{result['seconds']:.0f} s")
    return "\n".join(lines)


def envelope_rows(result: dict) -> list[list[str]]:
    """Header and one row per envelope column (empty when the result has none)."""
    env = result.get("envelope")
    if not env:
        return []
    rows = [["envelope", *(f"({k})" for k in SYSTEMS)]]
    for key, label in ENVELOPE_METRICS:
        m, cells = env[key], []
        for k in SYSTEMS:
            v = m[k]
            if "share" in v:
                cells.append("n/a" if not v["n"] else f"{v['count']}/{v['n']}")
            else:
                z = lambda x: 0.0 if abs(x) < 0.005 else x  # no "-0.00" from float round-off
                cells.append("n/a" if not v["n"] else f"{z(v['median']):.2f} / {z(v['max']):.2f}")
        rows.append([m["label"], *cells])
    return rows


def _goal_value(g: dict) -> str:
    v, fmt = g["value"], g.get("format", "plain")
    if fmt == "share":
        return "n/a" if math.isnan(v) else f"{100 * v:.0f}%"
    if fmt == "rel":
        return _num("x_rel", v)
    if fmt == "ratio":
        return "n/a" if math.isnan(v) else f"{v:.2f} x"
    if fmt == "null_db":
        return _num("x_null_db", v) + ("" if v <= NULL_FLOOR_DB else " dB")
    return _num("", v)


def markdown_report(result: dict) -> str:
    """The same summary as a markdown table (``bench/results/evaluate_<style>.md`` holds the shipped runs)."""
    header, rows = table_rows(result)
    out = [f"Measured on {_heading(result)}.", ""]
    out += [f"- ({k}) {v}" for k, v in result["systems"].items()]
    out += ["", "| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * len(SYSTEMS)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "Invariance (system d without refinement):", ""] + [f"- {x}" for x in _invariance_lines(result)]
    erows = envelope_rows(result)
    if erows:
        out += ["", "Engineer's envelope and stem balance (shares: count/n; others: median / max):", "",
                "| " + " | ".join(erows[0]) + " |", "|---|" + "---:|" * len(SYSTEMS)]
        out += ["| " + " | ".join(r) + " |" for r in erows[1:]]
    out += ["", "| goal | value | result |", "|---|---:|---|"]
    out += [f"| {g['goal']} | {_goal_value(g)} | {'pass' if g['pass'] else 'miss'} |" for g in result["goals"]]
    return "\n".join(out) + "\n"
