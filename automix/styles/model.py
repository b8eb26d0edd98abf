"""The style model: :class:`StyleTargets` (targets, tolerances, priors, envelope) and its parts.

A :class:`StyleTargets` is also a read-only mapping of its targets, so
``load_style_targets()['rock_punk']['lufs']`` works as in the original API.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from automix.envelope import Envelope
from automix.errors import StyleError
from automix.styles.schema import (BUSES, DEFAULT_ROLE_BALANCE_DB, DEFAULT_ROLE_PAN, DEFAULT_ROLE_WIDTH, ROLES,
                                   STYLE_KEYS, VECTOR_FIELDS, _BAND_ALIASES, _RANGES, _TOLERANCES)


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
_TARGET_KEYS: tuple[str, ...] = tuple(k for k in STYLE_KEYS if k not in ("extends", "spread"))  # spread: no target


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
    #: a learned style's spread (``automix styles learn``): each target's standard deviation and the count
    spread: Mapping[str, float] | None = None
    source: str = field(default="", compare=False)
    extends: str | None = field(default=None, compare=False)

    def __post_init__(self):
        for name in ("processing_chains", "role_balance_db", "role_pan", "role_width"):
            object.__setattr__(self, name, _freeze(getattr(self, name)))
        if self.spread is not None:
            object.__setattr__(self, "spread", _freeze(self.spread))
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
            **({"spread": _thaw(self.spread)} if self.spread is not None else {}),
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


# the loader builds StyleTargets and StyleTargets.extend uses the loader: imported last, used at call time
from automix.styles.validation import _Resolver, _merge, default_envelope  # noqa: E402
