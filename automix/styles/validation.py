"""Loading styles strictly: the checker (types, ranges, unknown keys, one-line errors with file and line),
the resolver of ``extends``, the shared envelope, and the preset and user files.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
import math
from pathlib import Path
from typing import Any, Callable, Mapping

from automix.envelope import ENVELOPE_FIELDS, Envelope
from automix.errors import StyleError
from automix.styles.schema import (BUILTIN_STYLES, BUSES, COMPRESSION_SHORTHAND, DEFAULT_ROLE_BALANCE_DB,
                                   DEFAULT_ROLE_PAN, DEFAULT_ROLE_WIDTH, ENVELOPE_RANGES, MIN_PLR_DB, ROLES,
                                   SPREAD_KEYS, STYLE_KEYS, _BANDS, _BAND_ALIASES, _BAND_WEIGHT_MAX, _ENVELOPE_PAIRS,
                                   _FORBIDDEN_PARAMS, _MAX_CHARACTER_WORDS, _MAX_TEXT, _NAME_RE, _RANGES,
                                   _REPLACE_ON_EXTEND, _REQUIRED, _ROLE_BALANCE_RANGE, _ROLE_PAN_RANGE,
                                   _SHORTHAND_SLOT, _TOLERANCES, _registry, _width_range)
from automix.styles.model import FrequencyBalance, StyleTargets, Tolerances, _thaw
from automix.styles.strict_yaml import _Node, _Rejected, _kind, _read_yaml


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
        spread = self._spread(name, data)
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
            spread=spread,
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

    def _spread(self, name: str, data: Mapping) -> dict[str, float] | None:
        if "spread" not in data or data["spread"] is None:
            return None
        ck, path = self.check, f"{name}.spread"
        table = ck.mapping(data["spread"], path, data, "spread")
        ck.keys(table, SPREAD_KEYS, path)
        for key in SPREAD_KEYS:
            if key not in table:
                ck.fail(f"{path} is missing {key!r}; give all of {', '.join(SPREAD_KEYS)}", data, "spread")
        out = {key: ck.number(table, key, f"{path}.{key}", 0.0, 1e6) for key in SPREAD_KEYS}
        if out["count"] < 2 or out["count"] != int(out["count"]):
            ck.fail(f"{path}.count = {out['count']:g} must be a whole number >= 2 (a spread needs two masters)",
                    table, "count")
        out["count"] = int(out["count"])
        return out

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


def preset_dir() -> Path:
    """Folder holding the built-in preset YAML files: this package's own (shipped as package data)."""
    return Path(__file__).resolve().parent


ENVELOPE_FILE = "envelope.yaml"


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
