"""Style targets: the built-in presets, user ``--targets`` files, strict validation.

A *style* is what a mix is steered towards and judged against: integrated
loudness, a true-peak ceiling, spectral centroid, mid/side ratio and a
low/mid/high band balance (each with a tolerance), plus engineering priors the
predictor starts from: default processing per bus or role, how loud the
roles sit against each other, and how far they are panned / widened.

Presets live in the ``styles`` package (one YAML per preset, shipped as
package data). A user file passed with ``--targets`` is either **one style**
(its top level holds style keys such as ``lufs``; the style is named after the
file stem) or **several styles keyed by name**. A user style may
``extends: <name>`` a style of the same file or a built-in preset and
override only what differs (mappings merge key by key; ``frequency_balance``
and ``character`` are replaced as a whole).

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
exactly); ``frequency_balance`` is the fraction of spectral power in the low,
mid and high bands (fractions sum to 1).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
import importlib.util
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import yaml

from automix.envelope import Envelope
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
_BAND_RANGE = (0.0, 1.0)
#: |low + mid + high - 1| allowed before renormalising.
BALANCE_SUM_TOLERANCE = 0.02

_TOLERANCES: dict[str, tuple[float, float, float, str]] = {  # default, min, max, unit
    "lufs_lu": (0.1, 0.01, 6.0, "LU"),
    "true_peak_db": (0.0, 0.0, 1.0, "dB"),
    "centroid_rel": (0.10, 0.01, 1.0, ""),
    "ms_abs": (0.10, 0.01, 1.0, ""),
    "balance_abs": (0.10, 0.01, 0.5, ""),
}
_ROLE_BALANCE_RANGE = (-30.0, 12.0)
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
    "vocal": 0.0, "drums": 0.0, "kick": 0.0, "snare": 0.0, "overheads": 0.0,
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
    "processing_chains", "role_balance_db", "role_pan", "role_width",
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
    """Fractions of spectral power per band; ``low + mid + high == 1``.

    Bands are those of the analysis module (low / mid / high). Loaded values
    within ±0.02 of summing to 1 are renormalised (and rounded to 1e-6).
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


@dataclass(frozen=True)
class StyleTargets:
    """One validated style: targets, tolerances and processing priors.

    Build through :func:`load_style_targets` or :meth:`from_dict` (they
    validate); the constructor itself only freezes the mappings.

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
        envelope: the engineer's envelope the moves stay inside (:class:`automix.envelope.Envelope`).
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
    envelope: Envelope = field(default_factory=Envelope)
    source: str = field(default="", compare=False)
    extends: str | None = field(default=None, compare=False)

    def __post_init__(self):
        for name in ("processing_chains", "role_balance_db", "role_pan", "role_width"):
            object.__setattr__(self, name, _freeze(getattr(self, name)))
        object.__setattr__(self, "character", tuple(self.character))

    def __hash__(self) -> int:
        return hash(self.fingerprint())

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

        Returns a fresh ``{plugin: {param: value}}``; parameters not given
        are left to the predictor / plugin defaults.
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
    import plugins

    return plugins.REGISTRY


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
            source=self.source,
            extends=parent.name if parent is not None else None,
        )

    def _balance(self, name: str, data: Mapping) -> FrequencyBalance:
        ck, path = self.check, f"{name}.frequency_balance"
        fb = ck.mapping(data["frequency_balance"], path, data, "frequency_balance")
        ck.keys(fb, _BANDS, path)
        for band in _BANDS:
            if band not in fb:
                ck.fail(f"{path} is missing {band!r}; give all of low, mid, high (fractions summing to 1)",
                        data, "frequency_balance")
        values = [ck.number(fb, b, f"{path}.{b}", *_BAND_RANGE) for b in _BANDS]
        total = sum(values)
        if abs(total - 1.0) > BALANCE_SUM_TOLERANCE:
            ck.fail(f"{path}: low + mid + high = {total:.4g} must be 1 (within ±{BALANCE_SUM_TOLERANCE:g}); "
                    "they are fractions of the spectral power", data, "frequency_balance")
        return FrequencyBalance(*(round(v / total, 6) for v in values))

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
        ck.keys(chains, BUSES + ROLES, path, "chain slot (bus or role)")
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
    """Folder holding the built-in preset YAML files (the ``styles`` package).

    Found through the import system when ``styles`` is importable, else as the
    sibling of the ``automix`` package (same site-packages or repository).
    """
    try:
        spec = importlib.util.find_spec("styles")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / f"{BUILTIN_STYLES[0]}.yaml").is_file():
                return Path(location)
    return Path(__file__).resolve().parent.parent / "styles"


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
        raise StyleError(f"{prefix}holds several styles; pick one with --style: {', '.join(styles)}")
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
        ``stereo_ms_ratio``, ``balance_low/mid/high``, ``extends`` and
        ``source``; in style order.
    """
    styles, _ = _styles_from(targets)
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
            "extends": style.extends,
            "source": style.source,
        })
    return rows


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
    rows.append(("frequency_balance.{low,mid,high}", "number",
                 f"0 .. 1 each, sum 1 ± {BALANCE_SUM_TOLERANCE:g} (renormalised)", "required"))
    for key, (default, lo, hi, unit) in _TOLERANCES.items():
        rows.append((f"tolerances.{key}", "number", rng(lo, hi, unit), f"{default:g}"))
    rows.append(("processing_chains.<slot>.<plugin>.<param>", "number (bool for bool params)",
                 "slot: " + ", ".join(BUSES + ROLES) + "; plugin/param/range from the registry "
                 "(limiter.ceiling_db not allowed)", "{} (partial is fine)"))
    w_lo, w_hi = _width_range()
    rows.append(("role_balance_db.<role>", "number", rng(*_ROLE_BALANCE_RANGE, "dB"), "see DEFAULT_ROLE_BALANCE_DB"))
    rows.append(("role_pan.<role>", "number", rng(*_ROLE_PAN_RANGE) + " (absolute pan)", "see DEFAULT_ROLE_PAN"))
    rows.append(("role_width.<role>", "number", rng(w_lo, w_hi) + " (stereo_width.width)", "1.0"))
    lines = ["| key | type | range | default |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {r} | {d} |" for k, t, r, d in rows]
    return "\n".join(lines)
