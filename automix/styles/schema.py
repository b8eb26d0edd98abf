"""The style schema as data: the built-in preset names, every key a style may hold, the ranges of the
targets and tolerances, the role defaults, the envelope's ranges, and the Markdown table generated from them.

Plain values: the strict loader (:mod:`automix.styles.validation`) checks files against them and
:func:`schema_markdown` documents them, so the two cannot drift.
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping

from automix.envelope import ENVELOPE_FIELDS
from automix.roles import ROLES  # the stem roles the priors are keyed by (re-exported)

#: Built-in presets, in listing order; each is ``styles/<name>.yaml``.
BUILTIN_STYLES: tuple[str, ...] = ("rock_punk", "rnb_ballad", "country_pop")

#: Chain slots that are not roles: ``stem`` applies to every stem (a role's
#: own chain is merged over it), ``master`` is the stereo master bus.
BUSES: tuple[str, ...] = ("stem", "master")

#: Order of :meth:`StyleTargets.vector`.
VECTOR_FIELDS: tuple[str, ...] = (
    "lufs", "true_peak_ceiling_dbtp", "spectral_centroid_hz", "stereo_ms_ratio",
    "balance_low", "balance_mid", "balance_high",
)

# (minimum, maximum, unit, scale) of every scalar target; scale "log" is used
# by vector(normalized=True).
_RANGES: dict[str, tuple[float, float, str, str]] = {
    "lufs": (-30.0, -5.0, "LUFS", "linear"),
    "true_peak_ceiling_dbtp": (-6.0, 0.0, "dBTP", "linear"),
    "spectral_centroid_hz": (500.0, 8000.0, "Hz", "log"),
    "stereo_ms_ratio": (0.0, 1.5, "", "linear"),


}


def from_normalized(key: str, value):
    """Invert :meth:`StyleTargets.vector` (``normalized=True``) for one of the first four fields.

    Works on floats and tensors alike (linear fields only; the centroid is geometric).
    """
    lo, hi, _, scale = _RANGES[key]
    if scale == "log":
        return lo * (hi / lo) ** value
    return lo + value * (hi - lo)


_BANDS = ("low", "mid", "high")
#: The original specification's names for the same bands (``frequency_balance`` takes either naming).
_BAND_ALIASES = ("low_energy", "mid_energy", "high_energy")

#: The original specification's ``processing_chains.compression`` shorthand: key -> stem compressor parameter.
COMPRESSION_SHORTHAND: Mapping[str, str] = MappingProxyType({
    "threshold": "threshold_db", "ratio": "ratio", "attack": "attack_ms", "release": "release_ms",
})
_SHORTHAND_SLOT = "compression"

#: (minimum, maximum, unit) of every numeric :class:`Envelope` field; ``centre_roles`` is a list of roles.
ENVELOPE_RANGES: Mapping[str, tuple[float, float, str]] = MappingProxyType({
    "stem_eq_boost_max_db": (0.0, 18.0, "dB"),
    "stem_eq_cut_min_db": (-18.0, 0.0, "dB"),
    "stem_shelf_max_abs_db": (0.0, 18.0, "dB"),
    "stem_eq_net_min_db": (-18.0, 0.0, "dB"),
    "stem_eq_net_max_db": (0.0, 18.0, "dB"),
    "stem_eq_fight_max_db": (0.0, 36.0, "dB"),
    "net_from_hz": (20.0, 20000.0, "Hz"),
    "net_to_hz": (20.0, 20000.0, "Hz"),
    "stem_level_range_db": (0.0, 18.0, "dB"),
    "stem_width_max": (0.0, 4.0, ""),
    "mono_side_floor_db": (-120.0, 0.0, "dB"),
    "master_width_min": (0.0, 4.0, ""),
    "master_width_max": (0.0, 4.0, ""),
    "centre_pan_max": (0.0, 1.0, ""),
    "stem_drive_max_db": (0.0, 36.0, "dB"),
    "master_peak_max_abs_db": (0.0, 18.0, "dB"),
    "master_shelf_max_abs_db": (0.0, 18.0, "dB"),
    "master_eq_net_max_abs_db": (0.0, 18.0, "dB"),
    "mono_folddown_loss_max_lu": (0.0, 12.0, "LU"),
    "stem_comp_threshold_min_db": (-60.0, 0.0, "dBFS"),
    "stem_comp_ratio_max": (1.0, 20.0, ""),
    "master_comp_threshold_min_db": (-60.0, 0.0, "dBFS"),
    "master_comp_ratio_max": (1.0, 20.0, ""),
})
#: (lower, upper, strict): envelope fields that must stay ordered.
_ENVELOPE_PAIRS = (
    ("stem_eq_cut_min_db", "stem_eq_boost_max_db", False),
    ("stem_eq_net_min_db", "stem_eq_net_max_db", False),
    ("net_from_hz", "net_to_hz", True),
    ("master_width_min", "master_width_max", False),
)

_TOLERANCES: dict[str, tuple[float, float, float, str]] = {  # default, min, max, unit
    "lufs_lu": (0.1, 0.01, 6.0, "LU"),
    "true_peak_db": (0.0, 0.0, 1.0, "dB"),
    "centroid_rel": (0.10, 0.01, 1.0, ""),
    "ms_abs": (0.10, 0.01, 1.0, ""),
    "balance_abs": (0.10, 0.01, 0.5, ""),
}
_ROLE_BALANCE_RANGE = (-30.0, 12.0)
#: Largest relative weight a ``frequency_balance`` entry may hold (they are normalised to sum to 1).
_BAND_WEIGHT_MAX = 1000.0
_ROLE_PAN_RANGE = (0.0, 1.0)
#: Minimum peak-to-loudness ratio ``ceiling - lufs`` (dB); the loudest
#: commercial masters sit near 4-6 dB.
MIN_PLR_DB = 3.0

#: Fallbacks for roles a style without ``extends`` leaves out.
DEFAULT_ROLE_BALANCE_DB: Mapping[str, float] = MappingProxyType({
    "vocal": 0.0, "drums": -1.5, "kick": -3.0, "snare": -3.5, "overheads": -9.0,
    "bass": -3.0, "guitar": -4.0, "keys": -6.0, "pads": -8.0, "other": -6.0,
})
DEFAULT_ROLE_PAN: Mapping[str, float] = MappingProxyType({
    "vocal": 0.0, "drums": 0.0, "kick": 0.0, "snare": 0.0, "overheads": 0.6,
    "bass": 0.0, "guitar": 0.6, "keys": 0.3, "pads": 0.4, "other": 0.3,
})
DEFAULT_ROLE_WIDTH: Mapping[str, float] = MappingProxyType({
    "vocal": 1.0, "drums": 1.0, "kick": 1.0, "snare": 1.0, "overheads": 1.0,
    "bass": 1.0, "guitar": 1.0, "keys": 1.0, "pads": 1.0, "other": 1.0,
})

_REQUIRED = ("lufs", "spectral_centroid_hz", "stereo_ms_ratio", "frequency_balance")
#: Every key a style mapping may hold, in file / to_dict order.
STYLE_KEYS: tuple[str, ...] = (
    "extends", "description", "character", "lufs", "true_peak_ceiling_dbtp",
    "spectral_centroid_hz", "stereo_ms_ratio", "frequency_balance", "tolerances",
    "processing_chains", "role_balance_db", "role_pan", "role_width", "envelope", "spread",
)
#: ``spread``: the standard deviation of each target over the masters a learned style was measured on
#: (``automix styles learn``), and how many there were; reports give each target's z-score against it
SPREAD_KEYS = ("count", "lufs", "spectral_centroid_hz", "stereo_ms_ratio", "low", "mid", "high")
# Replaced as a whole by ``extends`` overrides (a partial balance cannot sum to 1).
_REPLACE_ON_EXTEND = ("frequency_balance", "character")
# The master loop derives the limiter ceiling from true_peak_ceiling_dbtp.
_FORBIDDEN_PARAMS = {("limiter", "ceiling_db"): "set true_peak_ceiling_dbtp instead; the master loop derives the limiter ceiling from it"}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_MAX_FILE_BYTES = 1 << 20
_MAX_CHARACTER_WORDS = 12
_MAX_TEXT = 500


def _registry():
    # Imported at use so validation always reads the current specs.
    from automix.plugins import REGISTRY

    return REGISTRY


def _width_range() -> tuple[float, float]:
    spec = _registry()["stereo_width"].spec("width")
    return spec.minimum, spec.maximum


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return f"{value:g}"


def schema_markdown() -> str:
    """The targets schema as a Markdown table (ranges read from the code and the plugin registry)."""
    from automix.styles.validation import default_envelope  # the shared envelope's values are the defaults
    def rng(lo, hi, unit=""):
        return f"{lo:g} .. {hi:g}" + (f" {unit}" if unit else "")

    rows = [
        ("extends", "text", "a style of the same file or a built-in preset", "none (user files only)"),
        ("description", "text", "one line, <= 500 chars", '""'),
        ("character", "list of words", f"<= {_MAX_CHARACTER_WORDS} words", "[]"),
    ]
    defaults = {"true_peak_ceiling_dbtp": "-1.0"}
    for key, (lo, hi, unit, _) in _RANGES.items():
        rows.append((key, "number", rng(lo, hi, unit), defaults.get(key, "required")))
    rows.append(("frequency_balance.{low,mid,high} or .{low_energy,mid_energy,high_energy}", "number",
                 f"relative weights 0 .. {_BAND_WEIGHT_MAX:g}, one positive, one naming; normalised to sum 1 "
                 "(shares of the magnitude spectrum)", "required"))
    for key, (default, lo, hi, unit) in _TOLERANCES.items():
        rows.append((f"tolerances.{key}", "number", rng(lo, hi, unit), f"{default:g}"))
    rows.append(("processing_chains.<slot>.<plugin>.<param>", "number (bool for bool params)",
                 "slot: " + ", ".join(BUSES + ROLES) + "; plugin/param/range from the registry "
                 "(limiter.ceiling_db not allowed)", "{} (partial is fine)"))
    comp = _registry()["compressor"]
    for key, param in COMPRESSION_SHORTHAND.items():
        spec = comp.spec(param)
        rows.append((f"processing_chains.compression.{key}", "number",
                     rng(spec.minimum, spec.maximum) + f" (= stem.compressor.{param}; explicit keys win)", "none"))
    w_lo, w_hi = _width_range()
    rows.append(("role_balance_db.<role>", "number", rng(*_ROLE_BALANCE_RANGE, "dB"), "see DEFAULT_ROLE_BALANCE_DB"))
    rows.append(("role_pan.<role>", "number", rng(*_ROLE_PAN_RANGE) + " (absolute pan; centre roles <= envelope.centre_pan_max)", "see DEFAULT_ROLE_PAN"))
    rows.append(("role_width.<role>", "number", rng(w_lo, w_hi) + " (stereo_width.width, <= envelope.stem_width_max)",
                 "1.0"))
    shared = default_envelope().to_dict()
    for key in ENVELOPE_FIELDS:
        if key == "centre_roles":
            rows.append((f"envelope.{key}", "list of roles", "roles from: " + ", ".join(ROLES), _show(shared[key])))
        else:
            lo, hi, unit = ENVELOPE_RANGES[key]
            rows.append((f"envelope.{key}", "number", rng(lo, hi, unit), _show(shared[key])))
    rows.append(("spread.{lufs,spectral_centroid_hz,stereo_ms_ratio,low,mid,high}", "number",
                 ">= 0, the targets' standard deviation over the masters a learned style was measured on", "none"))
    rows.append(("spread.count", "integer", ">= 2, how many masters", "none"))
    lines = ["| key | type | range | default |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {r} | {d} |" for k, t, r, d in rows]
    return "\n".join(lines)
