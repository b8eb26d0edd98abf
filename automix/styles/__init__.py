"""Style targets: the built-in presets, user ``--targets`` files, strict validation.

A *style* is what a mix is steered towards and judged against: integrated
loudness, a true-peak ceiling, spectral centroid, mid/side ratio and a
low/mid/high band balance (each with a tolerance), plus engineering priors the
predictor starts from: default processing per bus or role, how loud the
roles sit against each other, and how far they are panned / widened, and the
engineer's envelope (:mod:`automix.envelope`): how far automix may move each
control.

Presets live in this package (one YAML per preset, shipped as package data,
next to ``envelope.yaml``, the shared default envelope). Its modules:
:mod:`~automix.styles.schema` (the schema as data and its Markdown table),
:mod:`~automix.styles.strict_yaml` (the YAML guards),
:mod:`~automix.styles.model` (:class:`StyleTargets`) and
:mod:`~automix.styles.validation` (the checker, ``extends``, the envelope,
the files); this module is the public API. A user
file passed with ``--targets`` is either **one style** (its top level holds
style keys such as ``lufs``; the style is named after the file stem) or
**several styles keyed by name**. A user style may ``extends: <name>`` a style
of the same file or a built-in preset and override only what differs
(mappings, ``envelope`` included, merge key by key; ``frequency_balance`` and
``character`` are replaced as a whole).

The original specification's targets form loads as written::

    rock_punk:
      lufs: -9.5
      spectral_centroid_hz: 2800
      stereo_ms_ratio: 0.6
      frequency_balance: {low_energy: 0.3, mid_energy: 0.5, high_energy: 0.4}
      processing_chains:
        compression: {threshold: -18, ratio: 4, attack: 10, release: 100}

``frequency_balance`` takes ``{low, mid, high}`` or ``{low_energy,
mid_energy, high_energy}`` (one naming, not mixed) as relative weights,
normalised to sum to 1 (0.3 / 0.5 / 0.4 is 0.25 / 0.4167 / 0.3333).
``processing_chains.compression`` (``threshold`` dB, ``ratio``, ``attack``
ms, ``release`` ms) is shorthand for the stems' compressor,
``processing_chains.stem.compressor.{threshold_db, ratio, attack_ms,
release_ms}``; keys written explicitly under ``stem.compressor`` in the same
mapping win, and a role's own chain still overrides both (as it overrides
``stem``).

Parsing is ``yaml.SafeLoader`` with three guards YAML 1.1 needs:

* duplicate keys are rejected (plain PyYAML silently keeps the last one);
* base-60 numbers (``4:1`` loads as 241, ``1:30`` as 90) and octal / hex /
  binary integers (``010`` loads as 8) are rejected wherever they appear;
* booleans (``yes``/``no``/``on``/``off``) and strings are never accepted
  where a number is expected, and every number must be finite.

Then a strict schema: unknown keys are rejected (the message lists the
allowed ones), every value is type- and range-checked, and processing-chain
parameters are checked against the plugin registry's :class:`ParamSpec`
ranges at load time (so the check follows the plugins as they change). Every
problem raises :class:`automix.errors.StyleError` with a one-line message
that starts with the file path (and line, when known) and names the key path,
the value and the allowed range, e.g.::

    mine.yaml:14: rock_punk.processing_chains.master.compressor.ratio = 40 is out of range [1, 20]; set it inside that range

Definitions assumed by the targets (the analysis module measures them):
``lufs`` is BS.1770-4 integrated loudness; ``true_peak_ceiling_dbtp`` is the
maximum 4x-oversampled true peak; ``stereo_ms_ratio`` is RMS(side)/RMS(mid)
with ``M = (L+R)/2``, ``S = (L-R)/2`` (the quantity ``stereo_width`` scales
exactly); ``spectral_centroid_hz`` is the magnitude-weighted mean frequency
of short-time spectra (librosa's convention); ``frequency_balance`` is each
band's share of the *magnitude* spectrum of those frames (low / mid / high,
split at the meter's ``BAND_EDGES_HZ``; shares sum to 1), not of power: a
balanced mix measures about 0.15 / 0.54 / 0.31.

A :class:`StyleTargets` is also a read-only mapping of its targets, so
``load_style_targets()['rock_punk']['lufs']`` works as in the original API
(see :meth:`StyleTargets.__getitem__`).
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Mapping

from automix.errors import StyleError
from automix.styles.model import FrequencyBalance, StyleTargets, Tolerances
from automix.styles.schema import (BUILTIN_STYLES, BUSES, DEFAULT_ROLE_BALANCE_DB, DEFAULT_ROLE_PAN,
                                   DEFAULT_ROLE_WIDTH, ENVELOPE_RANGES, ROLES, STYLE_KEYS, VECTOR_FIELDS, _show,
                                   from_normalized, schema_markdown)
from automix.styles.validation import _load_builtins, _load_file, default_envelope, preset_dir

__all__ = [
    "BUILTIN_STYLES", "ROLES", "BUSES", "STYLE_KEYS", "VECTOR_FIELDS", "from_normalized", "FrequencyBalance",
    "Tolerances", "StyleTargets", "load_style_targets", "get_style", "default_envelope", "ENVELOPE_RANGES",
    "describe_styles", "schema_markdown", "preset_dir", "DEFAULT_ROLE_BALANCE_DB", "DEFAULT_ROLE_PAN",
    "DEFAULT_ROLE_WIDTH",
]


def load_style_targets(path: str | PathLike | None = None) -> dict[str, StyleTargets]:
    """Load the built-in presets, or the styles of a user targets file.

    Args:
        path: ``None`` for the built-ins (:data:`BUILTIN_STYLES`, in that
            order); otherwise a YAML file holding one style (top level has
            style keys; the style is named after the file stem) or a mapping
            of style names to styles. User styles may ``extends:`` a style of
            the same file or a built-in preset.

    Returns:
        ``{name: StyleTargets}`` in file order.

    Raises:
        StyleError: missing / unreadable / malformed file or any schema
            violation; the one-line message starts with the file path.
    """
    if path is None:
        return _load_builtins()
    return _load_file(Path(path))


def _styles_from(targets) -> tuple[dict[str, StyleTargets], str | None]:
    if targets is None:
        return load_style_targets(), None
    if isinstance(targets, StyleTargets):  # one style (itself a mapping of its targets)
        return {targets.name: targets}, None
    if isinstance(targets, Mapping):
        return dict(targets), None
    return load_style_targets(targets), str(targets)


def get_style(name: str | None = None, targets=None) -> StyleTargets:
    """Pick one style.

    Args:
        name: style name; ``None`` is allowed when ``targets`` holds exactly
            one style.
        targets: ``None`` (built-in presets), a targets file path, or a
            mapping already returned by :func:`load_style_targets`.

    Raises:
        StyleError: unknown name (the message lists the available ones).
    """
    styles, label = _styles_from(targets)
    prefix = f"{label}: " if label else ""
    if name is None:
        if len(styles) == 1:
            return next(iter(styles.values()))
        where = label or ("the built-in presets" if targets is None else "the targets given")
        raise StyleError(f"{where} holds several styles; pick one with --style: {', '.join(styles)}")
    try:
        return styles[name]
    except KeyError:
        where = "styles in this file" if label else "available styles"
        raise StyleError(f"{prefix}unknown style {name!r}; {where}: {', '.join(styles)}") from None


def describe_styles(targets=None) -> list[dict[str, Any]]:
    """One flat row per style for ``automix styles``.

    Args:
        targets: as for :func:`get_style`.

    Returns:
        Rows with ``name, description, character`` (comma-joined), ``lufs``,
        ``true_peak_ceiling_dbtp``, ``spectral_centroid_hz``,
        ``stereo_ms_ratio``, ``balance_low/mid/high`` (normalised magnitude
        shares), ``stem_compressor`` (the stems' compressor prior, where the
        ``compression`` shorthand lands), ``envelope`` (every field) and
        ``envelope_overrides`` (``field=value`` where the style departs from
        the shared ``envelope.yaml``, comma-joined; ``""`` when it does not),
        ``extends`` and ``source``; in style order.
    """
    styles, _ = _styles_from(targets)
    shared = default_envelope().to_dict()
    rows = []
    for style in styles.values():
        fb = style.frequency_balance
        rows.append({
            "name": style.name,
            "description": style.description,
            "character": ", ".join(style.character),
            "lufs": style.lufs,
            "true_peak_ceiling_dbtp": style.true_peak_ceiling_dbtp,
            "spectral_centroid_hz": style.spectral_centroid_hz,
            "stereo_ms_ratio": style.stereo_ms_ratio,
            "balance_low": fb.low,
            "balance_mid": fb.mid,
            "balance_high": fb.high,
            "stem_compressor": style.chain_defaults("stem").get("compressor", {}),
            "envelope": style.envelope.to_dict(),
            "envelope_overrides": ", ".join(
                f"{k}={_show(v)}" for k, v in style.envelope.to_dict().items() if v != shared[k]),
            "extends": style.extends,
            "source": style.source,
        })
    return rows
