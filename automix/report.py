"""The session report: every target, hit or missed, and how the mix got there.

Hard targets (loudness, true-peak ceiling) decide ``status``; soft targets
(centroid, M/S, band balance) report their miss and the reason. "pre_master"
is the summed strips before the master chain; "final" is the delivered file.
"""
from __future__ import annotations

from automix import __version__
from automix.moves import session_moves
from automix.settings import MixSettings

REPORT_SCHEMA = "automix.report/1"

BANDS = ("low", "mid", "high")
#: the soft targets' report keys and their short names in printed tables
SOFT_TARGETS = {"spectral_centroid_hz": "centroid", "ms_ratio": "M/S", "band_balance": "balance"}




def _band_range(band: str) -> str:
    """'below 250 Hz', '250-4000 Hz' or 'above 4000 Hz': the band meter's edges."""
    from automix.meters.spectral import BAND_EDGES_HZ

    lo, hi = BAND_EDGES_HZ
    return {"low": f"below {lo:g} Hz", "mid": f"{lo:g}-{hi:g} Hz", "high": f"above {hi:g} Hz"}[band]


def _pct(share: float) -> str:
    """A band share as a percentage with two significant digits: '60%', '2.5%', '0.026%'."""
    p = 100 * share
    return f"{p:.0f}%" if p >= 9.95 else f"{p:.1f}%" if p >= 0.995 else f"{p:.2g}%"


def _out_of_reach(name: str, t: dict, tone: dict) -> str | None:
    """Why no master EQ setting reaches tonal target ``name`` on this material, or None when one does.

    Reads ``tone["reach"]``, which the tonal match records when its answer misses.
    """
    reach = tone.get("reach")
    if not reach:
        return None
    if name == "spectral_centroid_hz":
        (lo, hi), target, tol = reach["centroid_range_hz"], t["target"], t["tolerance_rel"]
        if hi < target * (1 - tol) or lo > target * (1 + tol):
            return (f"centroid {t['final']:.0f} Hz against {target:.0f}: the master EQ's envelope moves it only from "
                    f"{lo:.0f} to {hi:.0f} Hz on this material")
        return None
    if reach["balance_best_error"] <= t["tolerance"]:
        return None
    i, limit = reach["balance_limit"]["band"], reach["balance_limit"]["share"]
    band, want = BANDS[i], t["target"][BANDS[i]]
    return (f"the mix has {_pct(tone['balance_before'][i])} of its magnitude spectrum {_band_range(band)} (target "
            f"{_pct(want)}) and the master EQ inside its envelope takes that to {'at most' if limit < want else 'at least'} "
            f"{_pct(limit)}")


def _eq_limits(settings: MixSettings, envelope) -> str:
    """Which of the master EQ's envelope limits its moves sit at (the checker's reading):
    ``'master high shelf at its -4 dB limit'``, or the net response's when no section is at its own."""
    from automix.envelope import master_measures

    eq = [m for m in master_measures(settings.master, envelope=envelope, sample_rate=settings.sample_rate)
          if m.control.startswith("eq.") and (m.at_limit or m.violated)]
    sections = [f"master {m.control[3:-len('_gain_db')].replace('_', ' ').replace('peak', 'peak ')} at its "
                f"{m.value:+.0f} dB limit" for m in eq if m.control.endswith("_gain_db")]
    if sections:
        return "; ".join(sections)
    return f"master EQ's net response at its +-{envelope.master_eq_net_max_abs_db:g} dB limit" if eq else ""


def _soft_reason(name: str, targets: dict, tone: dict, settings: MixSettings, loop, envelope=None) -> str:
    """One sentence on why soft target ``name`` (an entry of ``targets``, the report's) was missed.

    ``loop`` is the master loop's :class:`~automix.master_loop.LoopResult`.

    The tonal match records what it predicted and, when that missed, how far the
    master EQ could take each target alone (``tone["reach"]``): so a tonal miss is
    told apart as out of the EQ's reach, traded against the other tonal target,
    or moved by the stages after the EQ.
    """
    t = targets[name]
    if name == "ms_ratio":
        width = next(p.params["width"] for p in settings.master if p.plugin == "stereo_width")
        final, target = t["final"], t["target"]
        if final < 1e-3:
            return "the stems carry no stereo information (mono/dual-mono, centred), so width cannot create any"
        if envelope is not None and final < target:
            said = f"M/S {final:.2f} against {target:.2f}"
            if width >= envelope.master_width_max - 1e-3:
                return (f"{said}: master width at its {envelope.master_width_max:g} limit, stems at most "
                        f"{envelope.stem_width_max:g} and panned by their roles; the stems are too narrow for more "
                        "inside the envelope")
            if final >= envelope.max_ms_for_folddown - 0.02:
                return (f"{said}: wider would lose more than {envelope.mono_folddown_loss_max_lu:g} LU when folded "
                        "to mono (the envelope's limit)")
        if envelope is not None and final > target and width <= envelope.master_width_min + 1e-3:
            return (f"M/S {final:.2f} against {target:.2f}: master width at its {envelope.master_width_min:g} "
                    "limit; the stems' own stereo is wider than the target")
        from automix.plugins import get_plugin

        spec = get_plugin("stereo_width").spec("width")
        if width >= spec.maximum - 1e-3 and final < target:
            return f"master width is at its maximum ({spec.maximum:g}); the stems are too narrow to reach {target:.2f}"
        if width <= spec.minimum + 1e-3 and final > target:
            return "master width is at its minimum (mono); the residual side comes from processing"
        if "skipped" in tone:
            return "the tonal match and width solve were off (tone_match=False), so the master width stayed as given"
        if not loop.converged:
            return (f"the master loop stopped after {len(loop.iterations)} passes with the width and the limiter still "
                    "moving each other (master.iterations in the report shows the path)")
        return "the limiter after the width stage moved the ratio on the delivered pass"
    if "skipped" in tone:
        return "the tonal match was off (tone_match=False), so the master EQ stayed as given"
    out = _out_of_reach(name, t, tone)
    if out:
        bound = _eq_limits(settings, envelope) if envelope is not None else ""
        shelves = tone.get("stem_shelves")
        if shelves and name == "spectral_centroid_hz" and envelope is not None:
            from automix.stem_shelves import SHELF_HZ

            bound += ("; " if bound else "") + (
                f"stem high shelves at {SHELF_HZ / 1000:g} kHz moved {shelves['median_db']:+.1f} dB (median) of the "
                f"{shelves['wanted_db']:+.1f} dB wanted, each shelf held to +-{envelope.stem_shelf_max_abs_db:g} dB")
        return f"out of reach inside the envelope: {out}" + (f" ({bound})" if bound else "")
    if name == "spectral_centroid_hz":
        other, label = "band_balance", "band balance"
        predicted_miss = abs(tone["centroid_predicted_hz"] / t["target"] - 1) > t["tolerance_rel"]
    else:
        other, label = "spectral_centroid_hz", "centroid"
        predicted = dict(zip(BANDS, tone["balance_predicted"]))
        predicted_miss = max(abs(predicted[b] - t["target"][b]) for b in BANDS) > t["tolerance"]
    both = (tone.get("reach") or {}).get("both_best")
    if predicted_miss and both is not None and both > 1.0:
        bound = _eq_limits(settings, envelope) if envelope is not None else ""
        return ("out of reach inside the envelope together with the "
                f"{label}: each is within the master EQ's reach alone, but no setting inside the envelope meets both on "
                f"this material (the closest leaves the worse of the two at {both:.2f}x its tolerance)"
                + (f" ({bound})" if bound else ""))
    if predicted_miss:
        aside = ", itself out of reach," if _out_of_reach(other, targets[other], tone) else ""
        return (f"within the master EQ's reach on its own, but the {label} target{aside} pulls the other way: the "
                "EQ stopped at the best compromise within its gentle-move penalty")
    return ("the master EQ was set to reach it; the soft clipper and limiter after the EQ moved the spectrum "
            "(a hotter loudness target squashes more)")


def _folddown(output: str) -> tuple[float | None, str | None]:
    """The delivered file's mono fold-down loss (LU; one extra read of the file, about 0.2 s per 3 minutes),
    or ``(None, why not)``."""
    import math
    import os

    from automix.envelope import folddown_loss_file

    if not output or not os.path.isfile(output):
        return None, None
    try:
        loss = folddown_loss_file(output)
    except (OSError, RuntimeError) as e:  # soundfile's errors: the report still comes out
        return None, f"mono fold-down loss not measured ({type(e).__name__}: {e})"
    return (loss if math.isfinite(loss) else None), None


def feature_axes() -> dict:
    """What the stems' array features index: ``octave_balance`` has one share per band between these edges
    (Hz; the first and last band open-ended), ``envelope_energy`` one share per bin between these edges (dB re
    the stem's integrated loudness; outer bins open-ended)."""
    from automix.features import ENVELOPE_EDGES_DB
    from automix.meters.spectral import OCTAVE_EDGES_HZ

    return {"octave_balance": {"unit": "power share per band", "band_edges_hz": list(OCTAVE_EDGES_HZ)},
            "envelope_energy": {"unit": "energy share per bin", "bin_edges_db_re_loudness": list(ENVELOPE_EDGES_DB)}}


def target_compliance(style, pre: dict, final: dict) -> dict[str, dict]:
    """Each target of ``style`` with its tolerance, the pre-master and final meters, the error and ``pass``
    (the report's ``targets`` without the reasons for soft misses)."""
    tol = style.tolerances
    targets: dict[str, dict] = {}
    lufs_err = final["integrated_lufs"] - style.lufs
    targets["integrated_lufs"] = {
        "hard": True, "target": style.lufs, "tolerance": tol.lufs_lu, "pre_master": pre["integrated_lufs"],
        "final": final["integrated_lufs"], "error": lufs_err, "pass": abs(lufs_err) <= tol.lufs_lu}
    tp_err = final["true_peak_dbtp"] - style.true_peak_ceiling_dbtp
    targets["true_peak_dbtp"] = {
        "hard": True, "ceiling": style.true_peak_ceiling_dbtp, "meter": "BS.1770-4 4x oversampled",
        "pre_master": pre["true_peak_dbtp"], "final": final["true_peak_dbtp"], "error": tp_err,
        "pass": tp_err <= tol.true_peak_db}
    c = final["spectral_centroid_hz"]
    c_err = (c - style.spectral_centroid_hz) / style.spectral_centroid_hz
    targets["spectral_centroid_hz"] = {
        "hard": False, "target": style.spectral_centroid_hz, "tolerance_rel": tol.centroid_rel,
        "pre_master": pre["spectral_centroid_hz"], "final": c, "error_rel": c_err, "pass": abs(c_err) <= tol.centroid_rel}
    ms = final["ms_ratio"]
    targets["ms_ratio"] = {
        "hard": False, "target": style.stereo_ms_ratio, "tolerance": tol.ms_abs, "pre_master": pre["ms_ratio"],
        "final": ms, "error": ms - style.stereo_ms_ratio, "pass": abs(ms - style.stereo_ms_ratio) <= tol.ms_abs}
    want = dict(zip(BANDS, style.frequency_balance.as_tuple()))
    errs = {b: final["band_balance"][b] - want[b] for b in BANDS}
    targets["band_balance"] = {
        "hard": False, "target": want, "tolerance": tol.balance_abs, "pre_master": pre["band_balance"],
        "final": final["band_balance"], "error": errs, "pass": max(abs(e) for e in errs.values()) <= tol.balance_abs}
    spread = getattr(style, "spread", None)
    if spread:  # a learned style: where the mix sits in the distribution of the masters it was learned from
        for name, key in (("integrated_lufs", "lufs"), ("spectral_centroid_hz", "spectral_centroid_hz"),
                          ("ms_ratio", "stereo_ms_ratio")):
            t = targets[name]
            t["z"] = _z(t["final"], t["target"], spread[key])
        targets["band_balance"]["z"] = {b: _z(final["band_balance"][b], want[b], spread[b]) for b in BANDS}
    return targets


def _z(value, mean: float, sd: float) -> float | None:
    """``(value - mean) / sd``, ``None`` when the spread is 0 or the value unknown."""
    import math

    if value is None or not math.isfinite(value) or sd <= 0:
        return None
    return (value - mean) / sd


def stem_summary(chain) -> dict:
    """A strip's settings as the report lists them: fader, pan, width, high-pass and EQ moves of 0.5 dB or more,
    the compressor in words and the saturation's mix."""
    p = {x.plugin: x.params for x in chain}
    eq = p["eq"]
    moves = {k: round(v, 1) for k, v in eq.items() if k.endswith("gain_db") and abs(v) >= 0.5}
    comp = p["compressor"]
    return {"gain_db": p["gain"]["gain_db"], "pan": p["pan"]["pan"], "width": p["stereo_width"]["width"],
            "eq": {"highpass_hz": round(eq["highpass_hz"], 1), **moves},
            "compressor": f"{comp['ratio']:.1f}:1 at {comp['threshold_db']:.1f} dB, "
                          f"{comp['attack_ms']:.0f}/{comp['release_ms']:.0f} ms, makeup {comp['makeup_db']:.1f} dB",
            "saturation_mix": p["saturation"]["mix"]}


def master_summary(settings: MixSettings) -> dict:
    """The master chain as the report lists it (bus trim, compressor in words, gain, ceiling, width, EQ moves)."""
    master = {x.plugin: x.params for x in settings.master}
    return {
        "input_gain_db": settings.master_input_gain_db,
        "compressor": f"{master['compressor']['ratio']:.1f}:1 at {master['compressor']['threshold_db']:.1f} dB",
        "gain_db": master["gain"]["gain_db"], "limiter_ceiling_db": master["limiter"]["ceiling_db"],
        "width": master["stereo_width"]["width"],
        "eq_moves_db": {k: round(v, 2) for k, v in master["eq"].items() if k.endswith("gain_db") and abs(v) >= 0.05},
    }


def build_report(*, style, settings: MixSettings, features, roles, pre: dict, final: dict, loop, tone: dict,
                 warnings: list[str], timings: dict, output: str, settings_path: str | None, engine: str,
                 refinement: dict | None, levels=None, folddown_db=None) -> dict:
    """The mix report. ``folddown_db``: the master's mono fold-down loss as the final pass metered it
    (:meth:`~automix.meters.StreamingMeter.folddown_loss_db`); when ``None`` it is measured on ``output``."""
    targets = target_compliance(style, pre, final)
    for name in SOFT_TARGETS:
        t = targets[name]
        if not t["pass"]:
            t["why"] = _soft_reason(name, targets, tone, settings, loop, style.envelope)
    hard_ok = targets["integrated_lufs"]["pass"] and targets["true_peak_dbtp"]["pass"]

    # the moves as an engineer reads them, and the envelope limits each sits at or crosses (an independent
    # check of the finished settings); the master's mono fold-down loss is measured on the delivered file
    folddown, fold_note = (folddown_db, None) if folddown_db is not None else _folddown(output)
    if fold_note:
        warnings = warnings + [fold_note]
    # the level match measured each strip: its loudness after the fader move is the stem as heard
    heard = ([m.measured_lufs + m.fader_change_db for m in levels] if levels is not None else None)
    engineer = session_moves(settings, [r for r, _ in roles], style, features, folddown_loss_db=folddown,
                             heard_lufs=heard)
    stems = []
    for i, (s, f, (role, source), mv) in enumerate(zip(settings.stems, features, roles, engineer["stems"])):
        stems.append({
            "path": s.path, "role": role, "role_source": source,
            "loudness_lufs": f.loudness_lufs, "input_gain_db": s.input_gain_db, "silent": f.silent,
            **stem_summary(s.chain),
            "features": f.values,
            "moves": mv["moves"], "envelope_limits_hit": mv["envelope_limits_hit"],
            "level_match": levels[i].to_dict() if levels is not None else None,
        })
    notes = list(loop.notes)
    if not loop.converged:
        notes.append(f"master loop stopped after {len(loop.iterations)} iterations without meeting every target")
    return {
        "schema": REPORT_SCHEMA,
        "automix_version": __version__,
        "status": "ok" if hard_ok else "missed",
        "style": style.name,
        "engine": engine,
        "sample_rate": settings.sample_rate,
        "output": output,
        "settings": settings_path,
        "targets": targets,
        "stems": stems,
        "master": {
            **master_summary(settings),
            "tonal_match": tone,
            "iterations": [it.to_dict() for it in loop.iterations],
            "converged": loop.converged,
            "moves": engineer["master"]["moves"], "envelope_limits_hit": engineer["master"]["envelope_limits_hit"],
        },
        "final_meters": final,
        "feature_axes": feature_axes(),
        "refinement": refinement,
        "warnings": warnings + notes,
        "timings": timings,
    }
