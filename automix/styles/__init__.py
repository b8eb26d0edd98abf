"""Style targets: the built-in presets, user ``--targets`` files, strict validation.

A *style* is what a mix is steered towards and judged against: integrated
loudness, a true-peak ceiling, spectral centroid, mid/side ratio and a
low/mid/high band balance (each with a tolerance), plus engineering priors the
predictor starts from: default processing per bus or role, how loud the
roles sit against each other, and how far they are panned / widened, and the
engineer's envelope (:mod:`automix.envelope`): how far automix may move each
control.

Presets live in the ``styles`` package (one YAML per preset, shipped as
package data, next to ``envelope.yaml``, the shared default envelope). A user
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

import difflib
from functools import lru_cache
import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import yaml

from automix.envelope import ENVELOPE_FIELDS, Envelope
from automix.errors import StyleError

__all__ = [
    "BUILTIN_STYLES",
    "ROLES",
    "BUSES",
    "STYLE_KEYS",
    "VECTOR_FIELDS",
    "from_normalized",
    "FrequencyBalance",
    "Tolerances",
    "StyleTargets",
    "load_style_targets",
    "get_style",
    "default_envelope",
    "ENVELOPE_RANGES",
    "describe_styles",
    "schema_markdown",
    "preset_dir",
]

#: Built-in presets, in listing order; each is ``styles/<name>.yaml``.
BUILTIN_STYLES: tuple[str, ...] = ("rock_punk", "rnb_ballad", "country_pop")

#: Stem roles the priors are keyed by (defined with role inference in automix.roles).
from automix.roles import ROLES  # noqa: E402

#: Chain slots that are not roles: ``stem`` applies to every stem (a role's
#: own chain is merged over it), ``master`` is the stereo master bus.
BUSES: tuple[str, ...] = ("stem", "master")

#: Order of :meth:`StyleTargets.vector`.
VECTOR_FIELDS: tuple[str, ...] = (
    "lufs", "true_peak_ceiling_dbtp", "spectral_centroid_hz", "stereo_ms_ratio",
    "balance_low", "balance_mid", "balance_high",
)

# ---------------------------------------------------------------- schema --

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
    "processing_chains", "role_balance_db", "role_pan", "role_width", "envelope",
)
# Replaced as a whole by ``extends`` overrides (a partial balance cannot sum to 1).
_REPLACE_ON_EXTEND = ("frequency_balance", "character")
# The master loop derives the limiter ceiling from true_peak_ceiling_dbtp.
_FORBIDDEN_PARAMS = {("limiter", "ceiling_db"): "set true_peak_ceiling_dbtp instead; the master loop derives the limiter ceiling from it"}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_MAX_FILE_BYTES = 1 << 20
_MAX_CHARACTER_WORDS = 12
_MAX_TEXT = 500


# ----------------------------------------------------------- dataclasses --


@dataclass(frozen=True)
class FrequencyBalance:
    """Each band's share of the magnitude spectrum; ``low + mid + high == 1``.

    Bands are those of the analysis module (low / mid / high, split at the
    spectral meter's ``BAND_EDGES_HZ``); the shares are of the short-time
    *magnitude* spectrum (librosa's convention), not of power. A file gives
    relative weights (``{low, mid, high}`` or ``{low_energy, mid_energy,
    high_energy}``), normalised to sum to 1 and rounded to 1e-6.
    """

    low: float
    mid: float
    high: float

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.low, self.mid, self.high)

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "mid": self.mid, "high": self.high}


@dataclass(frozen=True)
class Tolerances:
    """How close a render must come for each target to count as met.

    Attributes:
        lufs_lu: |measured - target| integrated loudness, LU.
        true_peak_db: allowed overshoot of the true-peak ceiling, dB (0 = none).
        centroid_rel: |measured / target - 1| of the spectral centroid.
        ms_abs: |measured - target| M/S ratio.
        balance_abs: max over bands of |measured - target| band fraction.
    """

    lufs_lu: float = 0.1
    true_peak_db: float = 0.0
    centroid_rel: float = 0.10
    ms_abs: float = 0.10
    balance_abs: float = 0.10

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in _TOLERANCES}


def _freeze(obj):
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in obj.items()})
    return obj


def _thaw(obj):
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    return obj


def _freeze_view(obj):
    """Read-only copy for the mapping view: mappings become proxies, lists tuples."""
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _freeze_view(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(_freeze_view(v) for v in obj)
    return obj


#: Keys of a style's mapping view (and of :meth:`StyleTargets.to_dict`), in file order.
_TARGET_KEYS: tuple[str, ...] = tuple(k for k in STYLE_KEYS if k != "extends")


@dataclass(frozen=True)
class StyleTargets(_MappingABC):
    """One validated style: targets, tolerances, processing priors and the envelope.

    Build through :func:`load_style_targets` or :meth:`from_dict` (they
    validate); the constructor itself only freezes the mappings.

    A style is also a read-only :class:`collections.abc.Mapping` of its
    targets, as the original API indexed them: ``style['lufs']``,
    ``'lufs' in style``, ``style.get(...)``, ``list(style)``, ``len(style)``.
    The keys are those of :meth:`to_dict` (file order); values are as there
    but frozen (mappings are read-only views, lists are tuples), with one
    difference: ``style['frequency_balance']`` names the bands as the
    original specification did, ``{'low_energy', 'mid_energy',
    'high_energy'}`` (normalised shares), where :meth:`to_dict` keeps the
    file schema's ``low``/``mid``/``high`` (both namings load). Equality and
    hashing stay the dataclass's (equal targets, not equal mappings).

    Attributes:
        name: style name (file key, or the file stem for a one-style file).
        lufs: integrated loudness target, LUFS, in [-30, -5].
        spectral_centroid_hz: spectral centroid target, Hz, in [500, 8000].
        stereo_ms_ratio: RMS(side)/RMS(mid) target, in [0, 1.5].
        frequency_balance: band power fractions (sum 1).
        true_peak_ceiling_dbtp: true-peak ceiling, dBTP, in [-6, 0]; default -1.
        tolerances: see :class:`Tolerances`.
        description: one line for listings.
        character: descriptive words (``aggressive``, ``warm``, ...).
        processing_chains: ``{slot: {plugin: {param: value}}}`` where slot is
            ``stem``, ``master`` or a role; values in the plugin's units
            (``threshold_db``, ``attack_ms``, ...), each inside its
            :class:`ParamSpec` range. Partial: parameters left out are the
            predictor's / the plugin default's business.
        role_balance_db: level of each role relative to the others, dB
            (``vocal: 0, bass: -3`` puts bass 3 dB under the vocal), for every
            role in :data:`ROLES`.
        role_pan: typical |pan| of each role in [0, 1] (0 centre, 1 hard);
            several stems of a role alternate left / right.
        role_width: typical ``stereo_width.width`` of each role's stereo stems.
        envelope: the engineer's envelope the moves stay inside (:class:`automix.envelope.Envelope`);
            default :func:`default_envelope` (``automix/styles/envelope.yaml``).
        source: file the style was loaded from (not part of equality).
        extends: the style it inherited from, if any (not part of equality).
    """

    name: str
    lufs: float
    spectral_centroid_hz: float
    stereo_ms_ratio: float
    frequency_balance: FrequencyBalance
    true_peak_ceiling_dbtp: float = -1.0
    tolerances: Tolerances = field(default_factory=Tolerances)
    description: str = ""
    character: tuple[str, ...] = ()
    processing_chains: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    role_balance_db: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ROLE_BALANCE_DB))
    role_pan: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ROLE_PAN))
    role_width: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ROLE_WIDTH))
    envelope: Envelope = field(default_factory=lambda: default_envelope())
    source: str = field(default="", compare=False)
    extends: str | None = field(default=None, compare=False)

    def __post_init__(self):
        for name in ("processing_chains", "role_balance_db", "role_pan", "role_width"):
            object.__setattr__(self, name, _freeze(getattr(self, name)))
        object.__setattr__(self, "character", tuple(self.character))

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    # -- read-only mapping of the targets ------------------------------------

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in _TARGET_KEYS:
            raise KeyError(f"style {self.name!r} has no target {key!r}; valid keys: {', '.join(_TARGET_KEYS)}")
        if key == "frequency_balance":
            return MappingProxyType(dict(zip(_BAND_ALIASES, self.frequency_balance.as_tuple())))
        return _freeze_view(self._plain(key))

    def __iter__(self):
        return iter(_TARGET_KEYS)

    def __len__(self) -> int:
        return len(_TARGET_KEYS)

    def __contains__(self, key) -> bool:
        return key in _TARGET_KEYS

    def _plain(self, key: str) -> Any:
        if key == "tolerances":
            return self.tolerances.to_dict()
        if key == "envelope":
            return self.envelope.to_dict()
        if key == "frequency_balance":
            return self.frequency_balance.to_dict()
        if key == "character":
            return list(self.character)
        return _thaw(getattr(self, key))

    # -- views -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able targets in file order (without ``name``).

        ``{style.name: style.to_dict()}`` is a valid targets file that loads
        back to an equal style.
        """
        return {
            "description": self.description,
            "character": list(self.character),
            "lufs": self.lufs,
            "true_peak_ceiling_dbtp": self.true_peak_ceiling_dbtp,
            "spectral_centroid_hz": self.spectral_centroid_hz,
            "stereo_ms_ratio": self.stereo_ms_ratio,
            "frequency_balance": self.frequency_balance.to_dict(),
            "tolerances": self.tolerances.to_dict(),
            "processing_chains": _thaw(self.processing_chains),
            "role_balance_db": _thaw(self.role_balance_db),
            "role_pan": _thaw(self.role_pan),
            "role_width": _thaw(self.role_width),
            "envelope": self.envelope.to_dict(),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the name and effective targets (for batch resume checks)."""
        blob = json.dumps({"name": self.name, "targets": self.to_dict()}, sort_keys=True, allow_nan=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def vector(self, *, normalized: bool = False) -> np.ndarray:
        """Numeric targets for conditioning the predictor.

        Order is :data:`VECTOR_FIELDS`: ``[lufs (LUFS), true_peak_ceiling_dbtp
        (dBTP), spectral_centroid_hz (Hz), stereo_ms_ratio, balance_low,
        balance_mid, balance_high]``.

        Args:
            normalized: map each entry to [0, 1] over its schema range
                (centroid geometrically, as Hz parameters are); band
                fractions are already in [0, 1].

        Returns:
            float64 array, shape ``(7,)``.
        """
        raw = [self.lufs, self.true_peak_ceiling_dbtp, self.spectral_centroid_hz, self.stereo_ms_ratio,
               *self.frequency_balance.as_tuple()]
        if not normalized:
            return np.asarray(raw, dtype=np.float64)
        out = []
        for key, value in zip(VECTOR_FIELDS[:4], raw[:4]):
            lo, hi, _, scale = _RANGES[key]
            if scale == "log":
                out.append((math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo)))
            else:
                out.append((value - lo) / (hi - lo))
        return np.asarray(out + raw[4:], dtype=np.float64)

    def chain_defaults(self, slot: str) -> dict[str, dict[str, float]]:
        """Default processing for a role (``stem`` chain merged with the role's own), ``stem`` or ``master``.

        Precedence, lowest first: the ``compression`` shorthand, the
        explicit ``stem`` chain, the role's own chain. Returns a fresh
        ``{plugin: {param: value}}``; parameters not given are left to the
        predictor / plugin defaults.
        """
        if slot not in BUSES and slot not in ROLES:
            raise StyleError(
                f"style {self.name!r}: unknown chain slot {slot!r}; expected one of {', '.join(BUSES + ROLES)}"
            )
        chains = _thaw(self.processing_chains)
        if slot in BUSES:
            return chains.get(slot, {})
        return _thaw(_merge(chains.get("stem", {}), chains.get(slot, {}), replace=()))

    # -- construction ------------------------------------------------------

    @classmethod
    def from_dict(cls, name: str, data: Mapping, *, source: str = "<dict>",
                  styles: Mapping[str, "StyleTargets"] | None = None) -> "StyleTargets":
        """Validate a plain mapping (file schema) into a style.

        Args:
            name: style name.
            data: the style's mapping, as in a targets file.
            source: label that starts every error message (a file path).
            styles: styles an ``extends`` may name besides the built-ins.
        """
        known = dict(styles or {})
        return _Resolver(source, {name: data}, known).resolve(name)


# ------------------------------------------------------------ YAML layer --


class _Node(dict):
    """A YAML mapping that remembers each key's line (1-based) and scalar text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict = {}
        self.texts: dict = {}


class _Rejected:
    """A scalar YAML 1.1 would silently turn into a surprising number."""

    def __init__(self, text: str, reason: str):
        self.text, self.reason = text, reason

    def __repr__(self) -> str:
        return self.text


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and keeps line numbers."""

    source = "<yaml>"


def _construct_map(loader: _StrictLoader, node: yaml.MappingNode):
    data = _Node()
    yield data
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise StyleError(f"{loader.source}:{line}: mapping keys must be text, got a {_kind(key)}") from None
        if key in seen:
            raise StyleError(
                f"{loader.source}:{line}: duplicate key {key!r} (first defined on line {seen[key]}); "
                "each key may appear only once per mapping"
            )
        seen[key] = line
    data.update(loader.construct_mapping(node, deep=True))  # also resolves "<<" merges
    for key_node, value_node in node.value:  # flattened: explicit keys come last and win
        key = loader.construct_object(key_node, deep=True)
        data.lines[key] = value_node.start_mark.line + 1
        data.texts[key] = value_node.value if isinstance(value_node, yaml.ScalarNode) else None


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode):
    text = node.value
    body = text.replace("_", "").lstrip("+-")
    if ":" in body:
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
        return _Rejected(text, f"is a YAML 1.1 base-60 number (it would load as {value}); "
                               "write a plain number, e.g. ratio: 4 for 4:1")
    if body[:2].lower() in ("0x", "0b") or (len(body) > 1 and body[0] == "0"):
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
        return _Rejected(text, f"is a YAML 1.1 hex/octal/binary integer (it would load as {value}); "
                               "write a plain decimal number")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: _StrictLoader, node: yaml.ScalarNode):
    if ":" in node.value:
        value = yaml.SafeLoader.construct_yaml_float(loader, node)
        return _Rejected(node.value, f"is a YAML 1.1 base-60 number (it would load as {value:g}); "
                                     "write a plain number")
    return yaml.SafeLoader.construct_yaml_float(loader, node)


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_yaml(path: Path, label: str):
    """Load one YAML document strictly; returns the raw object (maybe None)."""
    try:
        if not path.exists():
            raise StyleError(f"{label}: file not found; pass an existing YAML targets file")
        if path.is_dir():
            raise StyleError(f"{label}: is a directory; pass a YAML targets file")
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise StyleError(f"{label}: {size} bytes is too large for a targets file (limit {_MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise StyleError(f"{label}: cannot read: {_one_line(exc.strerror or exc)}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StyleError(f"{label}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    loader = _StrictLoader(text)
    loader.source = label
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        problem = exc.problem or exc.context or "malformed"
        if "expected a single document" in str(exc):
            problem = "holds several YAML documents ('---'); put all styles in one mapping"
        raise StyleError(f"{where}: invalid YAML: {_one_line(problem)}") from None
    except yaml.YAMLError as exc:
        raise StyleError(f"{label}: invalid YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()


# ------------------------------------------------------------ validation --


def _kind(value) -> str:
    if isinstance(value, _Rejected):
        return "rejected number"
    if value is None:
        return "empty value"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _fmt_range(lo: float, hi: float, unit: str = "") -> str:
    return f"[{lo:g}, {hi:g}]" + (f" {unit}" if unit else "")


def _merge(base: Mapping, over: Mapping, *, replace=_REPLACE_ON_EXTEND) -> dict:
    """Deep-merge ``over`` onto ``base``, keeping ``over``'s line info."""
    out = _Node(_thaw(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key not in replace:
            out[key] = _merge(out[key], value, replace=())
        else:
            out[key] = value
        if isinstance(over, _Node):
            out.lines[key] = over.lines.get(key)
            out.texts[key] = over.texts.get(key)
    return out


def _line(mapping: Mapping, key) -> int | None:
    return mapping.lines.get(key) if isinstance(mapping, _Node) else None


def _shallow(mapping: Mapping, lines_from: Mapping | None = None) -> _Node:
    """A shallow :class:`_Node` copy keeping the line and text of each key (nested nodes are shared)."""
    src = mapping if lines_from is None else lines_from
    out = _Node(mapping)
    if isinstance(src, _Node):
        out.lines.update({k: v for k, v in src.lines.items() if k in out})
        out.texts.update({k: v for k, v in src.texts.items() if k in out})
    return out


class _Checker:
    """Type and range checks that raise one-line :class:`StyleError` messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, msg: str, mapping: Mapping | None = None, key=None, line: int | None = None):
        if line is None and isinstance(mapping, _Node):
            line = mapping.lines.get(key)
        where = f"{self.source}:{line}" if line else self.source
        raise StyleError(f"{where}: {msg}")

    def _shown(self, mapping: Mapping, key) -> str:
        value = mapping[key]
        text = mapping.texts.get(key) if isinstance(mapping, _Node) else None
        if isinstance(value, _Rejected):
            return f"{value.text} (which {value.reason})"
        if isinstance(value, bool):
            if text is not None and text.lower() not in ("true", "false"):
                return f"{text} (YAML 1.1 reads it as the boolean {str(value).lower()})"
            return f"the boolean {str(value).lower()}"
        if isinstance(value, str):
            hint = ""
            try:
                float(value)
                hint = " (quoted, or not a YAML 1.1 number: write e.g. 1000.0 or 1.0e+3, unquoted)"
            except ValueError:
                pass
            return f"text {value!r}{hint}"
        if value is None:
            return "an empty value"
        return f"a {_kind(value)}"

    def mapping(self, value, path: str, parent: Mapping | None = None, key=None) -> Mapping:
        if not isinstance(value, Mapping):
            what = self._shown(parent, key) if parent is not None else f"a {_kind(value)}"
            self.fail(f"{path} must be a mapping of keys to values, got {what}", parent, key)
        for k in value:
            if not isinstance(k, str):
                self.fail(f"{path}: keys must be text, got {k!r} ({_kind(k)})", value, k)
        return value

    def keys(self, mapping: Mapping, allowed, path: str, what: str = "key", owner: str = ""):
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail(f"unknown {what} {key!r}{owner} in {path}{hint}; allowed: {', '.join(allowed)}",
                          mapping, key)

    def number(self, mapping: Mapping, key, path: str, lo: float, hi: float, unit: str = "",
               *, allow_bool: bool = False) -> float | bool:
        value = mapping[key]
        if allow_bool and isinstance(value, bool):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            expected = "true/false (or 0/1)" if allow_bool else f"a number in {_fmt_range(lo, hi, unit)}"
            self.fail(f"{path} must be {expected}, got {self._shown(mapping, key)}", mapping, key)
        v = float(value)
        if not math.isfinite(v):
            self.fail(f"{path} must be a finite number in {_fmt_range(lo, hi, unit)}, got {v}", mapping, key)
        if allow_bool:
            if v not in (0.0, 1.0):
                self.fail(f"{path} = {v:g} must be true/false (or 0/1)", mapping, key)
            return bool(v)
        if not lo <= v <= hi:
            self.fail(f"{path} = {v:g} is out of range {_fmt_range(lo, hi, unit)}; set it inside that range",
                      mapping, key)
        return v

    def text(self, mapping: Mapping, key, path: str) -> str:
        value = mapping[key]
        if not isinstance(value, str):
            self.fail(f"{path} must be text, got {self._shown(mapping, key)}", mapping, key)
        if len(value) > _MAX_TEXT or "\n" in value.strip():
            self.fail(f"{path} must be one line of at most {_MAX_TEXT} characters", mapping, key)
        return value.strip()

    def words(self, mapping: Mapping, key, path: str) -> tuple[str, ...]:
        value = mapping[key]
        if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) and w.strip() for w in value):
            self.fail(f"{path} must be a list of words, e.g. [warm, dynamic, wide], got {self._shown(mapping, key)}",
                      mapping, key)
        if len(value) > _MAX_CHARACTER_WORDS:
            self.fail(f"{path} has {len(value)} words; at most {_MAX_CHARACTER_WORDS}", mapping, key)
        return tuple(w.strip() for w in value)


def _registry():
    # Imported at use so validation always reads the current specs.
    from automix.plugins import REGISTRY

    return REGISTRY


def _width_range() -> tuple[float, float]:
    spec = _registry()["stereo_width"].spec("width")
    return spec.minimum, spec.maximum


class _Resolver:
    """Validates the styles of one file, resolving ``extends`` with cycle detection."""

    def __init__(self, source: str, raw: Mapping[str, Any], known: Mapping[str, StyleTargets] | None = None,
                 builtins: Callable[[], dict[str, StyleTargets]] | None = None):
        self.check = _Checker(source)
        self.source = source
        self.raw = raw
        self.known = dict(known or {})
        self.done: dict[str, StyleTargets] = {}
        self.stack: list[str] = []
        self._builtins = builtins if builtins is not None else _load_builtins
        self._builtin_cache: dict[str, StyleTargets] | None = None

    def builtins(self) -> dict[str, StyleTargets]:
        if self._builtin_cache is None:
            self._builtin_cache = self._builtins()
        return self._builtin_cache

    def resolve(self, name: str) -> StyleTargets:
        if name in self.done:
            return self.done[name]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            self.check.fail(
                f"style name {name!r} is not valid; use letters, digits and _ . + - (starting with a letter or digit)",
                self.raw, name)
        if name in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(name):] + [name])
            self.check.fail(f"extends cycle: {chain}", self.raw[name], "extends")
        data = self.raw[name]
        if not isinstance(data, Mapping):
            self.check.fail(
                f"style {name!r} must be a mapping of targets (lufs: ..., spectral_centroid_hz: ..., ...), "
                f"got {self.check._shown(self.raw, name)}; a one-style file has style keys at its top level "
                f"({', '.join(_REQUIRED)}, ...)", self.raw, name)
        self.stack.append(name)
        try:
            style = self._build(name, self.check.mapping(data, name, self.raw, name))
        finally:
            self.stack.pop()
        self.done[name] = style
        return style

    def _parent(self, name: str, data: Mapping) -> StyleTargets:
        parent = data["extends"]
        if not isinstance(parent, str):
            self.check.fail(f"{name}.extends must be a style name, got {self.check._shown(data, 'extends')}",
                            data, "extends")
        if parent in self.raw and parent != name:
            return self.resolve(parent)
        if parent in self.known and parent != name:
            return self.known[parent]
        builtins = self.builtins()
        if parent in builtins:
            return builtins[parent]
        others = sorted(set(self.raw) - {name}) + sorted(set(self.known) - {name})
        choices = ", ".join(others + list(builtins))
        self.check.fail(f"{name}.extends: unknown style {parent!r}; known: {choices}", data, "extends")
        raise AssertionError("unreachable")

    def _build(self, name: str, data: Mapping) -> StyleTargets:
        ck = self.check
        ck.keys(data, STYLE_KEYS, name)
        data = self._expand_compression(name, data)
        parent = None
        if "extends" in data:
            parent = self._parent(name, data)
            overrides = _Node({k: v for k, v in data.items() if k != "extends"})
            if isinstance(data, _Node):
                overrides.lines.update(data.lines)
                overrides.texts.update(data.texts)
            data = _merge(parent.to_dict(), overrides)
        for key in _REQUIRED:
            if key not in data:
                self.check.fail(
                    f"style {name!r} is missing required key {key!r} "
                    f"(required: {', '.join(_REQUIRED)}; or 'extends: <preset>' to inherit them)",
                    line=getattr(self.raw, "lines", {}).get(name))

        scalars = {}
        for key, (lo, hi, unit, _) in _RANGES.items():
            if key in data:
                scalars[key] = ck.number(data, key, f"{name}.{key}", lo, hi, unit)
        ceiling = scalars.get("true_peak_ceiling_dbtp", -1.0)
        if scalars["lufs"] > ceiling - MIN_PLR_DB:
            ck.fail(
                f"{name}.lufs = {scalars['lufs']:g} is too loud for true_peak_ceiling_dbtp = {ceiling:g}: "
                f"keep lufs <= ceiling - {MIN_PLR_DB:g} (peak-to-loudness ratio; loud masters sit near 4-6 dB)",
                data, "lufs")

        balance = self._balance(name, data)
        tolerances = self._tolerances(name, data)
        description = ck.text(data, "description", f"{name}.description") if "description" in data else ""
        character = ck.words(data, "character", f"{name}.character") if "character" in data else ()
        chains = self._chains(name, data)
        w_lo, w_hi = _width_range()
        role_balance = self._roles(name, data, "role_balance_db", DEFAULT_ROLE_BALANCE_DB, *_ROLE_BALANCE_RANGE, "dB")
        role_pan = self._roles(name, data, "role_pan", DEFAULT_ROLE_PAN, *_ROLE_PAN_RANGE, "")
        role_width = self._roles(name, data, "role_width", DEFAULT_ROLE_WIDTH, w_lo, w_hi, "")
        envelope = self._envelope(name, data)
        self._within_envelope(name, data, envelope, role_pan, role_width)
        return StyleTargets(
            name=name,
            lufs=scalars["lufs"],
            spectral_centroid_hz=scalars["spectral_centroid_hz"],
            stereo_ms_ratio=scalars["stereo_ms_ratio"],
            frequency_balance=balance,
            true_peak_ceiling_dbtp=ceiling,
            tolerances=tolerances,
            description=description,
            character=character,
            processing_chains=chains,
            role_balance_db=role_balance,
            role_pan=role_pan,
            role_width=role_width,
            envelope=envelope,
            source=self.source,
            extends=parent.name if parent is not None else None,
        )

    def _balance(self, name: str, data: Mapping) -> FrequencyBalance:
        ck, path = self.check, f"{name}.frequency_balance"
        fb = ck.mapping(data["frequency_balance"], path, data, "frequency_balance")
        ck.keys(fb, _BANDS + _BAND_ALIASES, path)
        names = _BAND_ALIASES if any(k in _BAND_ALIASES for k in fb) else _BANDS
        other = _BANDS if names is _BAND_ALIASES else _BAND_ALIASES
        for key in fb:
            if key in other:
                ck.fail(f"{path} mixes {', '.join(_BANDS)} with {', '.join(_BAND_ALIASES)} ({key!r}); "
                        f"use one naming for all three bands", fb, key)
        for band in names:
            if band not in fb:
                ck.fail(f"{path} is missing {band!r}; give all of {', '.join(names)} (relative weights, "
                        "normalised to sum to 1)", data, "frequency_balance")
        values = []
        for band in names:
            v = ck.number(fb, band, f"{path}.{band}", -math.inf, math.inf)
            if not 0.0 <= v <= _BAND_WEIGHT_MAX:
                ck.fail(f"{path}.{band} = {v:g} must be a non-negative weight (at most {_BAND_WEIGHT_MAX:g}); "
                        "the three weights are normalised to sum to 1", fb, band)
            values.append(v)
        total = sum(values)
        if total <= 0.0:
            ck.fail(f"{path}: all three weights are 0; give at least one positive weight "
                    "(they are normalised to sum to 1)", data, "frequency_balance")
        return FrequencyBalance(*(round(v / total, 6) for v in values))

    def _expand_compression(self, name: str, data: Mapping) -> Mapping:
        """Fold ``processing_chains.compression`` into ``processing_chains.stem.compressor``.

        Done before ``extends`` merges, so a child's shorthand overrides its parent's stem
        compressor; keys written under ``stem.compressor`` in the same mapping win.
        """
        chains = data.get("processing_chains")
        if not isinstance(chains, Mapping) or _SHORTHAND_SLOT not in chains:
            return data
        ck = self.check
        path = f"{name}.processing_chains.{_SHORTHAND_SLOT}"
        short = ck.mapping(chains[_SHORTHAND_SLOT], path, chains, _SHORTHAND_SLOT)
        ck.keys(short, tuple(COMPRESSION_SHORTHAND), path, "key",
                " (threshold dB, ratio, attack ms, release ms)")
        plugin = _registry()["compressor"]
        compressor = _Node()
        for key, param in COMPRESSION_SHORTHAND.items():
            if key in short:
                spec = plugin.spec(param)
                compressor[param] = ck.number(short, key, f"{path}.{key}", spec.minimum, spec.maximum)
                compressor.lines[param] = _line(short, key)
        stem = ck.mapping(chains.get("stem", {}), f"{name}.processing_chains.stem", chains, "stem")
        explicit = ck.mapping(stem.get("compressor", {}), f"{name}.processing_chains.stem.compressor",
                              stem, "compressor")
        for key, value in explicit.items():  # explicit stem.compressor keys win
            compressor[key] = value
            compressor.lines[key] = _line(explicit, key)
            compressor.texts[key] = explicit.texts.get(key) if isinstance(explicit, _Node) else None
        new_stem = _shallow(stem)
        new_stem["compressor"] = compressor
        new_stem.lines.setdefault("compressor", _line(chains, _SHORTHAND_SLOT))
        new_chains = _shallow({k: v for k, v in chains.items() if k != _SHORTHAND_SLOT}, chains)
        new_chains["stem"] = new_stem
        new_chains.lines.setdefault("stem", _line(chains, _SHORTHAND_SLOT))
        out = _shallow(data)
        out["processing_chains"] = new_chains
        return out

    def _envelope(self, name: str, data: Mapping) -> Envelope:
        base = default_envelope()
        if "envelope" not in data:
            return base
        path = f"{name}.envelope"
        env = self.check.mapping(data["envelope"], path, data, "envelope")
        return _check_envelope(self.check, env, path, base)

    def _within_envelope(self, name, data, envelope: Envelope, role_pan, role_width) -> None:
        """The style's own priors must sit inside its envelope (a prior outside it would be clamped at once)."""
        ck = self.check
        for role in ROLES:
            if role_width[role] > envelope.stem_width_max:
                ck.fail(f"{name}.role_width.{role} = {role_width[role]:g} is above "
                        f"envelope.stem_width_max = {envelope.stem_width_max:g}; lower it or raise the limit",
                        data.get("role_width") if isinstance(data.get("role_width"), Mapping) else data,
                        role if isinstance(data.get("role_width"), Mapping) else "role_width")
        for role in envelope.centre_roles:
            if role_pan[role] > envelope.centre_pan_max:
                ck.fail(f"{name}.role_pan.{role} = {role_pan[role]:g} is above envelope.centre_pan_max = "
                        f"{envelope.centre_pan_max:g} ({role} is a centre role); lower it or change the envelope",
                        data.get("role_pan") if isinstance(data.get("role_pan"), Mapping) else data,
                        role if isinstance(data.get("role_pan"), Mapping) else "role_pan")

    def _tolerances(self, name: str, data: Mapping) -> Tolerances:
        if "tolerances" not in data:
            return Tolerances()
        ck, path = self.check, f"{name}.tolerances"
        tol = ck.mapping(data["tolerances"], path, data, "tolerances")
        ck.keys(tol, tuple(_TOLERANCES), path)
        out = {}
        for key, (_, lo, hi, unit) in _TOLERANCES.items():
            if key in tol:
                out[key] = ck.number(tol, key, f"{path}.{key}", lo, hi, unit)
        return Tolerances(**out)

    def _roles(self, name, data, key, defaults, lo, hi, unit) -> dict[str, float]:
        out = dict(defaults)
        if key not in data:
            return out
        ck, path = self.check, f"{name}.{key}"
        table = ck.mapping(data[key], path, data, key)
        ck.keys(table, ROLES, path, "role")
        for role in table:
            out[role] = ck.number(table, role, f"{path}.{role}", lo, hi, unit)
        return {r: out[r] for r in ROLES}

    def _chains(self, name: str, data: Mapping) -> dict:
        if "processing_chains" not in data:
            return {}
        ck, path = self.check, f"{name}.processing_chains"
        chains = ck.mapping(data["processing_chains"], path, data, "processing_chains")
        ck.keys(chains, BUSES + ROLES + (_SHORTHAND_SLOT,), path, "chain slot (bus or role)")
        registry = _registry()
        out: dict = {}
        for slot, chain in chains.items():
            spath = f"{path}.{slot}"
            chain = ck.mapping(chain, spath, chains, slot)
            ck.keys(chain, tuple(registry), spath, "plugin")
            out[slot] = {}
            for plugin_name, params in chain.items():
                ppath = f"{spath}.{plugin_name}"
                params = ck.mapping(params, ppath, chain, plugin_name)
                plugin = registry[plugin_name]
                ck.keys(params, plugin.param_names, ppath, "parameter", f" for plugin {plugin_name!r}")
                values = {}
                for param, spec in ((p.name, p) for p in plugin.params):
                    if param not in params:
                        continue
                    reason = _FORBIDDEN_PARAMS.get((plugin_name, param))
                    if reason:
                        ck.fail(f"{ppath}.{param} is not allowed in a style: {reason}", params, param)
                    values[param] = ck.number(params, param, f"{ppath}.{param}", spec.minimum, spec.maximum,
                                              allow_bool=spec.scale == "bool")
                out[slot][plugin_name] = values
        return out


# ---------------------------------------------------------------- public --


def preset_dir() -> Path:
    """Folder holding the built-in preset YAML files: this package's own (shipped as package data)."""
    return Path(__file__).resolve().parent


ENVELOPE_FILE = "envelope.yaml"


@functools.lru_cache(maxsize=1)
@lru_cache(maxsize=1)
def default_envelope() -> Envelope:
    """The shared default envelope, read (strictly) from ``automix/styles/envelope.yaml``.

    That file is the one source of the defaults: every :class:`Envelope` field must be in it,
    each inside its :data:`ENVELOPE_RANGES` range. A style's ``envelope:`` mapping overrides fields.

    Raises:
        StyleError: the file is missing, malformed, incomplete or out of range.
    """
    path = preset_dir() / ENVELOPE_FILE
    label = str(path)
    data = _read_yaml(path, label)
    check = _Checker(label)
    if not isinstance(data, Mapping):
        check.fail(f"must be a mapping of envelope fields ({', '.join(ENVELOPE_FIELDS)}), got {_kind(data)}", line=1)
    return _check_envelope(check, data, "envelope", None)


def _check_envelope(ck: "_Checker", env: Mapping, path: str, base: Envelope | None) -> Envelope:
    """Validate envelope overrides onto ``base`` (``None``: ``env`` must give every field)."""
    ck.keys(env, ENVELOPE_FIELDS, path)
    if base is None:
        missing = [f for f in ENVELOPE_FIELDS if f not in env]
        if missing:
            ck.fail(f"{path} is missing {', '.join(missing)}; the shared envelope gives every field a value")
        values: dict[str, Any] = {}
    else:
        values = base.to_dict()
    for key in ENVELOPE_FIELDS:
        if key not in env:
            continue
        kpath = f"{path}.{key}"
        if key == "centre_roles":
            roles = env[key]
            if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
                ck.fail(f"{kpath} must be a list of roles, e.g. [kick, snare, bass, vocal], "
                        f"got {ck._shown(env, key)}", env, key)
            for role in roles:
                if role not in ROLES:
                    close = difflib.get_close_matches(role, list(ROLES), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    ck.fail(f"unknown role {role!r} in {kpath}{hint}; allowed: {', '.join(ROLES)}", env, key)
            if len(set(roles)) != len(roles):
                ck.fail(f"{kpath} lists a role twice; name each role once", env, key)
            values[key] = list(roles)
        else:
            lo, hi, unit = ENVELOPE_RANGES[key]
            values[key] = ck.number(env, key, kpath, lo, hi, unit)
    for lo_key, hi_key, strict in _ENVELOPE_PAIRS:
        a, b = values[lo_key], values[hi_key]
        if a > b or (strict and a == b):
            where = hi_key if hi_key in env else lo_key
            ck.fail(f"{path}.{lo_key} = {a:g} must be {'below' if strict else 'at most'} "
                    f"{path}.{hi_key} = {b:g}; set them in that order", env, where)
    return Envelope(**values)


def _preset_path(name: str) -> Path:
    return preset_dir() / f"{name}.yaml"


def _load_builtins() -> dict[str, StyleTargets]:
    out: dict[str, StyleTargets] = {}
    for name in BUILTIN_STYLES:
        path = _preset_path(name)
        styles = _load_file(path, known=out, builtins=lambda: dict(out))
        if set(styles) != {name}:
            raise StyleError(f"{path}: a preset file must hold exactly one style named after the file")
        out.update(styles)
    return out


def _load_file(path: Path, *, known=None, builtins=None) -> dict[str, StyleTargets]:
    label = str(path)
    data = _read_yaml(path, label)
    check = _Checker(label)
    if data is None:
        check.fail("is empty; expected one style (lufs: ..., spectral_centroid_hz: ..., ...) "
                   "or a mapping of style names to styles")
    if not isinstance(data, Mapping):
        check.fail(f"top level must be a mapping (one style, or style names to styles), got a {_kind(data)}",
                   line=1)
    for key in data:
        if not isinstance(key, str):
            check.fail(f"top-level keys must be text, got {key!r} ({_kind(key)})", data, key)
    style_keys = [k for k in data if k in STYLE_KEYS]
    if style_keys:
        # One style named after the file; every top-level key must be a style key.
        name = path.stem
        raw = _Node({name: data})
        raw.lines[name] = 1
    else:
        if not data:
            check.fail("defines no styles")
        raw = data
    resolver = _Resolver(label, raw, known, builtins)
    return {name: resolver.resolve(name) for name in raw}


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


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return f"{value:g}"


def schema_markdown() -> str:
    """The targets schema as a Markdown table (ranges read from the code and the plugin registry)."""
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
    lines = ["| key | type | range | default |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {r} | {d} |" for k, t, r, d in rows]
    return "\n".join(lines)
