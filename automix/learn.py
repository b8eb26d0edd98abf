"""Styles learned from references: a folder of finished masters measured into a style YAML.

``automix styles learn DIR --name NAME`` meters every audio file in ``DIR`` (integrated loudness, spectral
centroid, M/S ratio, band balance: the meters the report judges a mix by) and writes a style in the seed
format whose targets are the folder's means and whose tolerances come from its spread (one standard
deviation, within the schema's bounds and never tighter than automix's own precision). The spread itself is
kept in the style (``spread``), so a report gives each target's z-score against the folder. What the masters
cannot tell (the processing priors, role balance, the envelope, the true-peak ceiling: a finished master's
peaks say how hard it was limited, not what a delivery allows) comes from ``extends``, by default the preset
whose targets lie nearest. The file is loaded back through the same validation as a written style before it
is kept.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from automix.errors import UsageError

#: fewer masters than this give no spread worth the name
MIN_MASTERS = 3
BANDS = ("low", "mid", "high")
#: tolerance bounds (also automix's precision at the low end): loudness LU, centroid relative, M/S, band share
TOLERANCE_BOUNDS = {"lufs_lu": (0.1, 1.0), "centroid_rel": (0.02, 0.5), "ms_abs": (0.02, 1.0),
                    "balance_abs": (0.02, 0.5)}


def measure_folder(folder: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """The meters of every audio file in ``folder`` (sorted by name) and one line per file left out (unreadable,
    silent)."""
    from automix.discovery import is_audio_name
    from automix.render import analyze_files

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder; give a folder of finished masters")
    paths = sorted(str(p) for p in folder.iterdir() if p.is_file() and is_audio_name(p.name))
    rows, skipped = [], []
    for row in analyze_files(paths):
        if "error" in row:
            skipped.append(f"{row['error']} ({row['code']})")
        elif not math.isfinite(row["integrated_lufs"]) or row["integrated_lufs"] < -70:
            skipped.append(f"{row['file']}: silent; left out")
        else:
            rows.append(row)
    return rows, skipped


def _nearest_preset(lufs: float, centroid: float, ms: float, balance: dict) -> str:
    from automix.styles import load_style_targets

    def distance(style) -> float:
        b = style.frequency_balance.to_dict()
        return math.sqrt(((style.lufs - lufs) / 6.0) ** 2 + math.log(style.spectral_centroid_hz / centroid) ** 2
                         + ((style.stereo_ms_ratio - ms) / 0.3) ** 2
                         + sum(((b[k] - balance[k]) / 0.1) ** 2 for k in BANDS))

    presets = load_style_targets()
    return min(presets, key=lambda name: distance(presets[name]))


def learn_style(folder: str | os.PathLike, name: str, *, extends: str | None = None) -> tuple[str, list[str]]:
    """The YAML text of a style learned from ``folder`` and the lines to tell the user (masters left out,
    values the schema bounded). Raises :class:`UsageError` with fewer than :data:`MIN_MASTERS` usable masters."""
    import yaml

    from automix.styles import get_style
    from automix.styles.schema import MIN_PLR_DB, _NAME_RE

    if not _NAME_RE.match(name):
        raise UsageError(f"style name {name!r}: use letters, digits and _ . + - (starting with a letter or digit)")
    rows, notes = measure_folder(folder)
    if len(rows) < MIN_MASTERS:
        raise UsageError(f"{folder}: {len(rows)} usable master(s); a learned style needs at least {MIN_MASTERS} "
                         "to measure a spread" + (f" ({len(notes)} left out: {notes[0]})" if notes else ""))
    lufs = np.array([r["integrated_lufs"] for r in rows])
    centroid = np.array([r["spectral_centroid_hz"] for r in rows])
    ms = np.array([r["ms_ratio"] for r in rows])
    bands = {k: np.array([r["band_balance"][k] for r in rows]) for k in BANDS}
    balance = {k: float(v.mean()) for k, v in bands.items()}
    total = sum(balance.values())
    balance = {k: round(v / total, 4) for k, v in balance.items()}
    std = {"lufs": float(lufs.std(ddof=1)), "spectral_centroid_hz": float(centroid.std(ddof=1)),
           "stereo_ms_ratio": float(ms.std(ddof=1)), **{k: float(v.std(ddof=1)) for k, v in bands.items()}}
    base_name = extends or _nearest_preset(float(lufs.mean()), float(centroid.mean()), float(ms.mean()), balance)
    base = get_style(base_name)
    target_lufs = float(lufs.mean())
    bounded = min(max(target_lufs, -30.0), base.true_peak_ceiling_dbtp - MIN_PLR_DB, -5.0)
    if bounded != target_lufs:
        notes.append(f"loudness {target_lufs:.1f} LUFS is louder than the schema allows under a "
                     f"{base.true_peak_ceiling_dbtp:g} dBTP ceiling; the style asks for {bounded:.1f} LUFS")

    def bound(key: str, value: float) -> float:
        lo, hi = TOLERANCE_BOUNDS[key]
        return round(min(max(value, lo), hi), 3)

    mean_c = float(centroid.mean())
    style = {
        "extends": base_name,
        "description": f"Learned from {len(rows)} masters in {Path(folder).name}.",
        "character": ["learned"],
        "lufs": round(bounded, 2),
        "spectral_centroid_hz": round(min(max(mean_c, 500.0), 8000.0), 1),
        "stereo_ms_ratio": round(min(max(float(ms.mean()), 0.0), 1.5), 3),
        "frequency_balance": balance,
        "tolerances": {"lufs_lu": bound("lufs_lu", std["lufs"]),
                       "centroid_rel": bound("centroid_rel", std["spectral_centroid_hz"] / mean_c),
                       "ms_abs": bound("ms_abs", std["stereo_ms_ratio"]),
                       "balance_abs": bound("balance_abs", max(std[k] for k in BANDS))},
        "spread": {"count": len(rows), **{k: round(v, 4) for k, v in std.items()}},
    }
    header = [f"# {name}: learned by automix from {len(rows)} masters in {Path(folder).resolve()}",
              "# targets: the masters' means; tolerances: one standard deviation, within "
              + ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in TOLERANCE_BOUNDS.items()),
              f"# processing priors, role balance, envelope and true-peak ceiling: from {base_name}",
              "# measured (file, LUFS, centroid Hz, M/S, low/mid/high):"]
    header += [f"#   {Path(r['file']).name}: {r['integrated_lufs']:.2f}, {r['spectral_centroid_hz']:.0f}, "
               f"{r['ms_ratio']:.3f}, " + "/".join(f"{r['band_balance'][k]:.3f}" for k in BANDS) for r in rows]
    text = "\n".join(header) + "\n" + yaml.safe_dump({name: style}, sort_keys=False, allow_unicode=True)
    return text, notes


def write_learned(folder: str | os.PathLike, name: str, output: str | os.PathLike, *, extends: str | None = None,
                  force: bool = False) -> list[str]:
    """Learn a style from ``folder`` and write it to ``output`` (validated by loading it back first; atomic;
    an existing file is kept unless ``force``). Returns the lines to tell the user."""
    import tempfile

    from automix.audio_io import write_text_atomic
    from automix.errors import OutputError
    from automix.styles import load_style_targets

    output = Path(output)
    if output.exists() and not force:
        raise OutputError(f"{output}: exists already; pass --force to replace it", code="E_EXISTS")
    text, notes = learn_style(folder, name, extends=extends)
    with tempfile.TemporaryDirectory() as tmp:  # the same validation as a written style, before it is kept
        check = Path(tmp) / "learned.yaml"
        check.write_text(text, encoding="utf-8")
        learned = load_style_targets(check)[name]
    write_text_atomic(output, text)
    s = learned
    lines = [f"wrote {output}: style {name!r} from {s.spread['count']} masters (extends {s.extends})",
             f"  loudness {s.lufs:.2f} LUFS (sd {s.spread['lufs']:.2f}), centroid {s.spectral_centroid_hz:.0f} Hz "
             f"(sd {s.spread['spectral_centroid_hz']:.0f}), M/S {s.stereo_ms_ratio:.3f} "
             f"(sd {s.spread['stereo_ms_ratio']:.3f}), balance "
             + "/".join(f"{v:.3f}" for v in s.frequency_balance.as_tuple())]
    return lines + [f"note: {n}" for n in notes]
