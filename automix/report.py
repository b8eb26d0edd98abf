"""The session report: every target, hit or missed, and how the mix got there.

Hard targets (loudness, true-peak ceiling) decide ``status``; soft targets
(centroid, M/S, band balance) report their miss and the reason. "pre_master"
is the summed strips before the master chain; "final" is the delivered file.
"""
from __future__ import annotations

import math

import numpy as np

from automix import __version__
from automix.settings import MixSettings

BANDS = ("low", "mid", "high")


def _soft_reason(name: str, final: float, target: float, loop, tone: dict, settings: MixSettings) -> str:
    width = next(p.params["width"] for p in settings.master if p.plugin == "stereo_width")
    if name == "ms_ratio":
        if final < 1e-3:
            return "the stems carry no stereo information (mono/dual-mono, centred), so width cannot create any"
        if width >= 3.999 and final < target:
            return f"master width is at its maximum (4.0); the stems are too narrow to reach {target:.2f}"
        if width <= 1e-3 and final > target:
            return "master width is at its minimum (mono); the residual side comes from processing"
        return "after the width move, dynamics processing shifted the ratio; increase --max-iterations"
    if name == "spectral_centroid_hz":
        moves = tone.get("moves_db", {})
        pinned = [k for k, v in moves.items() if abs(v) >= 17.5]
        if pinned:
            return f"master EQ reached the end of its range ({', '.join(pinned)}); the material's spectrum is far from the target"
        return ("the EQ stopped where further boost/cut would cost more than the centroid gains (gentle-move "
                "penalty) or the band-balance target pulls the other way")
    return "band balance and centroid targets compete; the EQ found the best compromise within its gentle-move penalty"


def build_report(*, style, settings: MixSettings, features, roles, pre: dict, final: dict, loop, tone: dict,
                 warnings: list[str], timings: dict, output: str, settings_path: str | None, engine: str,
                 refinement: dict | None) -> dict:
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
    for name in ("spectral_centroid_hz", "ms_ratio", "band_balance"):
        t = targets[name]
        if not t["pass"]:
            fv = t["final"] if name != "band_balance" else 0.0
            tv = t["target"] if name != "band_balance" else 0.0
            t["why"] = _soft_reason(name, fv, tv, loop, tone, settings)
    hard_ok = targets["integrated_lufs"]["pass"] and targets["true_peak_dbtp"]["pass"]

    stems = []
    for s, f, (role, source) in zip(settings.stems, features, roles):
        p = {x.plugin: x.params for x in s.chain}
        eq = p["eq"]
        moves = {k: round(v, 1) for k, v in eq.items() if k.endswith("gain_db") and abs(v) >= 0.5}
        comp = p["compressor"]
        stems.append({
            "path": s.path, "role": role, "role_source": source,
            "loudness_lufs": f.loudness_lufs, "input_gain_db": s.input_gain_db, "silent": f.silent,
            "gain_db": p["gain"]["gain_db"], "pan": p["pan"]["pan"], "width": p["stereo_width"]["width"],
            "eq": {"highpass_hz": round(eq["highpass_hz"], 1), **moves},
            "compressor": f"{comp['ratio']:.1f}:1 at {comp['threshold_db']:.1f} dB, "
                          f"{comp['attack_ms']:.0f}/{comp['release_ms']:.0f} ms, makeup {comp['makeup_db']:.1f} dB",
            "saturation_mix": p["saturation"]["mix"],
            "features": f.values,
        })
    master = {x.plugin: x.params for x in settings.master}
    notes = list(loop.notes)
    if not loop.converged:
        notes.append(f"master loop stopped after {len(loop.iterations)} iterations without meeting every target")
    return {
        "schema": "automix.report/1",
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
            "input_gain_db": settings.master_input_gain_db,
            "compressor": f"{master['compressor']['ratio']:.1f}:1 at {master['compressor']['threshold_db']:.1f} dB",
            "gain_db": master["gain"]["gain_db"], "limiter_ceiling_db": master["limiter"]["ceiling_db"],
            "width": master["stereo_width"]["width"],
            "eq_moves_db": {k: round(v, 2) for k, v in master["eq"].items() if k.endswith("gain_db") and abs(v) >= 0.05},
            "tonal_match": tone,
            "iterations": [it.to_dict() for it in loop.iterations],
            "converged": loop.converged,
        },
        "final_meters": final,
        "refinement": refinement,
        "warnings": warnings + notes,
        "timings": timings,
    }
