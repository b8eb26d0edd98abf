"""The moves a mix made, as an engineer reads them, and where they sit against the envelope.

:func:`session_moves` gives, per stem, a compact ``moves`` dict (role, level against the role's prior,
pan, the largest EQ moves, the compressor's estimated gain reduction, width and drive where they act)
and ``envelope_limits_hit`` (the limits the stem sits at or crosses, from the independent checker in
:mod:`automix.envelope`); the same for the master. :func:`table_lines` prints one line per stem.

The compressor's gain reduction is an estimate, not a measurement: the static gain law of the plugin
applied to the stem's envelope-level histogram (the ``envelope_energy`` feature, JUCE peak ballistics at
10/100 ms), with the stem at :data:`~automix.constants.REFERENCE_LUFS` and its EQ's power gain over the ten
octave shares, energy-weighted over the histogram's bins (the power-average turn-down, dB).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from automix import envelope as env_mod

#: EQ sections smaller than this (|dB|) are not listed as moves
EQ_MOVE_MIN_DB = 0.5
#: how many EQ moves a stem lists, largest first
EQ_MOVES_SHOWN = 3
_SECTIONS = (("low_shelf", "low shelf", "ls"), ("peak1", "", ""), ("peak2", "", ""), ("peak3", "", ""),
             ("high_shelf", "high shelf", "hs"))
#: the printed table's legend
LEGEND = ("  level: dB vs the role's place in the balance, as heard; EQ: largest moves (ls/hs: shelves); "
          "comp: est. GR dB\n"
          "  mono: loudness change (dB) played as (L+R)/2; * at an envelope limit, ! past one "
          "(see envelope_limits_hit)")


def pan_text(pan: float) -> str:
    """``'L30'``, ``'C'`` (|pan| < 0.005) or ``'R45'``: pan x 100, rounded."""
    if abs(pan) < 0.005:
        return "C"
    return f"{'L' if pan < 0 else 'R'}{max(1, round(abs(pan) * 100))}"


def hz_text(hz: float) -> str:
    """``'300 Hz'``, ``'3.0 kHz'``."""
    return f"{hz:.0f} Hz" if hz < 1000 else f"{hz / 1000:.1f} kHz"


def hz_short(hz: float) -> str:
    """``'300'``, ``'3k'``, ``'2.5k'``, ``'12k'``."""
    if hz < 1000:
        return f"{hz:.0f}"
    k = round(hz / 1000, 1)
    return f"{k:g}k" if k < 10 else f"{round(k):d}k"


def eq_moves(eq: Mapping[str, float], top: int = EQ_MOVES_SHOWN, min_db: float = EQ_MOVE_MIN_DB
             ) -> list[tuple[str, float, float]]:
    """``(section, gain_db, hz)`` of the shelves and peaks with ``|gain| >= min_db``, largest first (at most ``top``)."""
    moves = [(name, float(eq[f"{name}_gain_db"]), float(eq[f"{name}_hz"])) for name, _, _ in _SECTIONS
             if abs(float(eq[f"{name}_gain_db"])) >= min_db]
    return sorted(moves, key=lambda m: -abs(m[1]))[:top]


def _label(section: str, i: int) -> str:
    return next(s[i] for s in _SECTIONS if s[0] == section)


def eq_move_strings(eq: Mapping[str, float]) -> list[str]:
    """``['+2.5 dB @ 3.0 kHz', 'high shelf -1.5 dB @ 8.0 kHz']``."""
    out = []
    for name, g, hz in eq_moves(eq):
        label = _label(name, 1)
        out.append(f"{label + ' ' if label else ''}{g:+.1f} dB @ {hz_text(hz)}")
    return out


def eq_move_short(eq: Mapping[str, float]) -> str:
    """``'+2.5@3k -1.5@300 hs+1.0@8k'`` (``'-'`` when flat)."""
    return " ".join(f"{_label(n, 2)}{g:+.1f}@{hz_short(hz)}" for n, g, hz in eq_moves(eq)) or "-"


def eq_power_gain(eq: Mapping[str, float], octave_shares: Sequence[float], sample_rate: float) -> float:
    """The EQ's broadband power gain on a stem of these octave shares (each octave read at its centre)."""
    from automix.dsp import sos_response
    from automix.meters.spectral import OCTAVE_CENTRES_HZ
    from automix.inference import eq_sos

    f = np.minimum(np.asarray(OCTAVE_CENTRES_HZ), 0.49 * sample_rate)
    h = sos_response(eq_sos(eq, sample_rate), f, float(sample_rate))
    w = np.clip(np.asarray(octave_shares, np.float64), 0.0, None)
    return float(np.sum(w * np.abs(h) ** 2) / w.sum()) if w.sum() > 0 else 1.0


def compressor_gr_db(compressor: Mapping[str, float], eq: Mapping[str, float] | None, features: Mapping[str, Any],
                     sample_rate: float) -> float | None:
    """Estimated average gain reduction (dB, >= 0) of a strip's compressor on its stem (see the module docstring).

    ``None`` without an envelope histogram (silent stems).
    """
    from automix.features import ENVELOPE_LEVELS_DB
    from automix.constants import REFERENCE_LUFS

    shares = np.clip(np.asarray(features.get("envelope_energy") or (), np.float64), 0.0, None)
    if shares.size != len(ENVELOPE_LEVELS_DB) or not shares.sum() > 0:
        return None
    eq_gain = eq_power_gain(eq, features["octave_balance"], sample_rate) if eq is not None else 1.0
    level = np.asarray(ENVELOPE_LEVELS_DB) + REFERENCE_LUFS + 10.0 * math.log10(max(eq_gain, 1e-12))
    slope = 1.0 / float(compressor["ratio"]) - 1.0
    reduction = slope * np.maximum(level - float(compressor["threshold_db"]), 0.0)
    gain = float(np.sum(shares * 10.0 ** (reduction / 10.0)) / shares.sum())
    return max(0.0, -10.0 * math.log10(gain))


def stem_moves(chain, *, role: str, prior_db: float | None, features: Mapping[str, Any] | None,
               sample_rate: float, heard_lufs: float | None = None) -> dict[str, Any]:
    """The compact ``moves`` dict of one strip (``PluginSettings`` chain).

    ``level_db_vs_role`` is the stem's level against its role's place: as heard when ``heard_lufs`` (the stem
    soloed through its strip, LUFS) is given, else the strip's level moves (fader + make-up + trim) against the
    role prior; ``level_moves_db_vs_role`` is always the latter (the quantity the envelope bounds).
    """
    from automix.constants import REFERENCE_LUFS

    p = {x.plugin: x.params for x in chain}
    out: dict[str, Any] = {"role": role}
    moves = round(env_mod.stem_level_db(p) - prior_db, 1) if prior_db is not None else None
    heard = (round(heard_lufs - (REFERENCE_LUFS + prior_db), 1)
             if prior_db is not None and heard_lufs is not None and math.isfinite(heard_lufs) else None)
    out["level_db_vs_role"] = heard if heard is not None else moves
    out["level_moves_db_vs_role"] = moves
    pan = float(p["pan"]["pan"]) if "pan" in p else 0.0
    out["pan"], out["pan_value"] = pan_text(pan), round(pan, 3)
    out["eq"] = eq_move_strings(p["eq"]) if "eq" in p else []
    if "compressor" in p:
        gr = compressor_gr_db(p["compressor"], p.get("eq"), features, sample_rate) if features else None
        out["compressor_gr_db"] = None if gr is None else round(gr, 1)
    if "stereo_width" in p and abs(float(p["stereo_width"]["width"]) - 1.0) > 1e-9:
        out["width"] = round(float(p["stereo_width"]["width"]), 2)
    if "saturation" in p and float(p["saturation"]["mix"]) > 0.0:
        out["saturation_drive_db"] = round(float(p["saturation"]["drive_db"]), 1)
        out["saturation_mix"] = round(float(p["saturation"]["mix"]), 2)
    return out


def master_moves(chain, folddown_loss_db: float | None = None) -> dict[str, Any]:
    """The master's ``moves``: its EQ moves, width where != 1, output gain, and the mono fold-down loss."""
    p = {x.plugin: x.params for x in chain}
    out: dict[str, Any] = {"eq": eq_move_strings(p["eq"]) if "eq" in p else []}
    if "stereo_width" in p and abs(float(p["stereo_width"]["width"]) - 1.0) > 1e-9:
        out["width"] = round(float(p["stereo_width"]["width"]), 2)
    if "gain" in p:
        out["gain_db"] = round(float(p["gain"]["gain_db"]), 2)
    out["mono_folddown_loss_db"] = (round(folddown_loss_db, 2) if folddown_loss_db is not None
                                    and math.isfinite(folddown_loss_db) else None)
    return out


def session_moves(settings, roles, style, features=None, mono=None, *, folddown_loss_db: float | None = None,
                  envelope=None, heard_lufs: Sequence[float] | None = None) -> dict[str, Any]:
    """``{"stems": [{"moves", "envelope_limits_hit"}, ...], "master": {"moves", "envelope_limits_hit"}}``.

    ``roles``: one role (or ``(role, source)``) per stem; ``style``: gives the envelope and the role
    priors (``None``: ``envelope`` must be given and the stem level is not judged); ``features``: per stem a
    :class:`~automix.features.StemFeatures` or its ``values`` (``None``: no GR estimate); ``mono``: per stem
    (default: from the features' M/S ratio, else stereo); ``heard_lufs``: per stem its loudness soloed through
    its strip (:func:`automix.engines.pedalboard_engine.strip_loudness`), for the level as heard.
    """
    env = envelope if envelope is not None else style.envelope
    names = [r[0] if isinstance(r, (tuple, list)) else r for r in roles]
    values = [f if isinstance(f, Mapping) else f.values for f in features] if features is not None else [None] * len(names)
    if mono is None:
        mono = env_mod.stems_mono(values, env) if features is not None else [False] * len(names)
    measured = env_mod.settings_measures(settings, names, style, mono, folddown_loss_db=folddown_loss_db,
                                         envelope=env)
    priors = (env_mod.role_priors_db(style, [s.path for s in settings.stems], names) if style is not None
              else [None] * len(names))
    heard = list(heard_lufs) if heard_lufs is not None else [None] * len(names)
    stems = []
    for s, role, prior, v, m, h in zip(settings.stems, names, priors, values, measured["stems"], heard):
        stems.append({"moves": stem_moves(s.chain, role=role, prior_db=prior, features=v,
                                          sample_rate=settings.sample_rate, heard_lufs=h),
                      "envelope_limits_hit": env_mod.limits_hit(m)})
    master = {"moves": master_moves(settings.master, folddown_loss_db),
              "envelope_limits_hit": env_mod.limits_hit(measured["master"])}
    return {"stems": stems, "master": master}


# ------------------------------------------------------------------------------------------------ the table

_COLUMN_OF = (("eq.", "eq"), ("level_vs_role_db", "level"), ("pan", "pan"), ("width", "width"),
              ("saturation.", "drive"))


def _marks(hits: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Column -> ``'!'`` (past a limit) or ``'*'`` (at one)."""
    out: dict[str, str] = {}
    for h in hits:
        col = next((c for prefix, c in _COLUMN_OF if h["control"].startswith(prefix)), None)
        if col is None:
            continue
        mark = "!" if h["state"] == "violated" else "*"
        if out.get(col) != "!":
            out[col] = mark
    return out


def _eq_short(strings: Sequence[str]) -> str:
    """The report's EQ move strings shortened: ``'high shelf -1.5 dB @ 8.0 kHz'`` -> ``'hs-1.5@8k'``."""
    out = []
    for s in strings:
        m = re.fullmatch(r"(?:(low|high) shelf )?([+-][\d.]+) dB @ ([\d.]+) (k?)Hz", s)
        if not m:
            out.append(s)
            continue
        hz = float(m.group(3)) * (1000 if m.group(4) else 1)
        out.append(f"{(m.group(1) or '')[:1] + 's' if m.group(1) else ''}{m.group(2)}@{hz_short(hz)}")
    return " ".join(out) or "-"


def stem_line(stem: Mapping[str, Any]) -> str:
    """One stem as a table row (from a report stem with ``moves`` and ``envelope_limits_hit``), < 110 characters."""
    mv, hits = stem["moves"], stem.get("envelope_limits_hit", [])
    mk = _marks(hits)
    name = Path(stem["path"]).name
    name = name if len(name) <= 20 else name[:19] + "~"
    lvl = mv.get("level_db_vs_role")
    level = (f"{lvl:+.1f} dB" if lvl is not None else "n/a") + mk.get("level", " ")
    pan = mv["pan"] + mk.get("pan", " ")
    eq = _eq_short(mv.get("eq", [])) + mk.get("eq", " ")
    gr = mv.get("compressor_gr_db")
    gr_text = f"GR {gr:.1f}" if gr is not None else ""
    width = (f"w{mv['width']:.2f}" + mk.get("width", " ")) if "width" in mv else ""
    drive = (f"sat {mv['saturation_drive_db']:.0f}" + mk.get("drive", " ")) if "saturation_drive_db" in mv else ""
    line = f"  {mv['role']:<9} {name:<20} {level:>9} {pan:<5} {eq:<34} {gr_text:<7} {width:<6} {drive}"
    return line.rstrip()


def table_lines(stems: Sequence[Mapping[str, Any]], master: Mapping[str, Any] | None = None) -> list[str]:
    """The per-stem table (a header, one line per stem, the master's line, the legend)."""
    lines = [f"  {'role':<9} {'stem':<20} {'level':>9} {'pan':<5} {'EQ':<34} {'comp':<7} {'width':<6} drive"]
    lines += [stem_line(s) for s in stems]
    if master is not None:
        mv, hits = master["moves"], master.get("envelope_limits_hit", [])
        mk = _marks(hits)
        fold = mv.get("mono_folddown_loss_db")
        fold_mark = "!" if any(h["control"] == "mono_folddown_loss_db" and h["state"] == "violated" for h in hits) \
            else "*" if any(h["control"] == "mono_folddown_loss_db" for h in hits) else ""
        eq = _eq_short(mv.get("eq", [])) + mk.get("eq", " ")
        width = f"w{mv['width']:.2f}" + mk.get("width", " ") if "width" in mv else ""
        mono = f"mono {-fold:+.1f}{fold_mark}" if fold is not None else ""
        lines.append(f"  {'master':<9} {'':<20} {'':>9} {'':<5} {eq:<34} {'':<7} {width:<6} {mono}".rstrip())
    lines += LEGEND.split("\n")
    return lines


def render_report(settings, output: str, meters: Mapping[str, Any], style=None, threads: int = 1) -> dict[str, Any]:
    """What ``automix render`` reports: per stem its ``moves`` and ``envelope_limits_hit``, the same for the
    master (its mono fold-down loss measured on ``output``), and the output's meters.

    Settings carry no roles: each stem's role is inferred as ``automix mix`` does (name, else features; one
    feature pass per stem). Without ``style`` the envelope is the shared default (``automix/styles/envelope.yaml``)
    and stem levels are not judged (no role balance to judge them against).
    """
    from concurrent.futures import ThreadPoolExecutor

    from automix.audio_io import probe
    from automix.envelope import folddown_loss_file
    from automix.styles import default_envelope
    from automix.features import StemFeatureExtractor
    from automix.roles import infer_role

    extractor = StemFeatureExtractor(settings.sample_rate)
    infos = [probe(s.path) for s in settings.stems]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        features = list(pool.map(extractor.from_file, infos))
    roles = [infer_role(s.path, None if f.silent else f.values) for s, f in zip(settings.stems, features)]
    envelope = style.envelope if style is not None else default_envelope()
    fold = folddown_loss_file(output)
    heard = None
    if style is not None:  # the level as heard: each stem soloed through its strip (one more pass per stem)
        from automix.engines.pedalboard_engine import strip_loudness

        heard = strip_loudness(settings, threads=threads)
    found = session_moves(settings, [r for r, _ in roles], style, features, envelope=envelope,
                          folddown_loss_db=fold if math.isfinite(fold) else None, heard_lufs=heard)
    notes = [] if style is not None else ["no style given: the default envelope, stem levels not judged"]
    return {
        "schema": "automix.render-report/1",
        "output": str(output),
        "style": style.name if style is not None else None,
        "envelope": envelope.to_dict(),
        "stems": [{"path": s.path, "role": r, "role_source": src, **m}
                  for s, (r, src), m in zip(settings.stems, roles, found["stems"])],
        "master": found["master"],
        "final_meters": dict(meters),
        "notes": notes,
    }
