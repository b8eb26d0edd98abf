"""MixSettings: the contract between predictor and engines, as versioned JSON.

Shape (documented in the README so tools outside automix can read/write it)::

    {"schema": "automix.settings/1",
     "sample_rate": 44100,
     "stems": [{"path": "drums.wav", "input_gain_db": -3.2,
                "chain": [{"plugin": "eq", "params": {...}}, ...]}, ...],
     "master": {"input_gain_db": -6.1, "chain": [{"plugin": "compressor", "params": {...}}, ...]}}

* Every plugin lists every parameter, in engineering units (the unit is in the
  name). Loading rejects unknown plugins, unknown or missing keys and
  out-of-range values, naming stem, plugin, key, value and range.
* ``input_gain_db`` (optional, default 0) is the level normalisation measured
  when the settings were made; it makes level-relative parameters
  (thresholds, gains) independent of how hot a stem was recorded.
* ``master.input_gain_db`` (optional, default 0) is the bus trim measured the
  same way: the summed strips brought to ``constants.BUS_REFERENCE_LUFS`` before
  the master chain, so the master compressor's threshold means the same for
  4 stems and for 16.
* Relative stem paths are resolved against the settings file's folder.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from automix.errors import ParameterError, SettingsError
from automix.plugins import get_plugin

SCHEMA = "automix.settings/1"
#: decimals of the input gains (dB), as of every dB parameter
GAIN_DECIMALS = 2
INPUT_GAIN_RANGE_DB = (-60.0, 60.0)


@dataclass
class PluginSettings:
    """One processor in a chain: a registered plugin name and all its parameters."""

    plugin: str
    params: dict[str, float]

    def to_dict(self) -> dict:
        """As written to JSON: flags as true/false, every number at its parameter's resolution."""
        plugin = get_plugin(self.plugin)
        params = {}
        for k, v in self.params.items():
            spec = plugin.spec(k)
            params[k] = spec.quantize(v) >= 0.5 if spec.scale == "bool" else spec.quantize(v)
        return {"plugin": self.plugin, "params": params}

    def quantize(self) -> "PluginSettings":
        """Put every parameter at the resolution it is written at (:meth:`ParamSpec.quantize`), in place; so a
        chain rendered after this is exactly the chain its settings file re-renders."""
        plugin = get_plugin(self.plugin)
        for k, v in self.params.items():
            self.params[k] = plugin.spec(k).quantize(v)
        return self


@dataclass
class StemSettings:
    path: str
    chain: list[PluginSettings] = field(default_factory=list)
    input_gain_db: float = 0.0
    #: the stem file these settings were made for, ``{"bytes": int, "sha256": hex}`` (see
    #: :mod:`automix.provenance`); ``None`` when unknown (hand-written settings)
    source: dict | None = None

    def to_dict(self) -> dict:
        out = {"path": self.path, "input_gain_db": round(self.input_gain_db, GAIN_DECIMALS),
               "chain": [p.to_dict() for p in self.chain]}
        if self.source is not None:
            out["source"] = dict(self.source)
        return out


@dataclass
class MixSettings:
    """A complete, re-renderable description of a mix."""

    sample_rate: int
    stems: list[StemSettings]
    master: list[PluginSettings] = field(default_factory=list)
    schema: str = SCHEMA
    #: bus trim before the master chain (dB)
    master_input_gain_db: float = 0.0

    def to_dict(self) -> dict:
        return {
            "schema": self.schema,
            "sample_rate": self.sample_rate,
            "stems": [s.to_dict() for s in self.stems],
            "master": {"input_gain_db": round(self.master_input_gain_db, GAIN_DECIMALS),
                       "chain": [p.to_dict() for p in self.master]},
        }

    def quantize(self) -> "MixSettings":
        """Every value at the resolution it is written at, in place (see :meth:`PluginSettings.quantize`)."""
        for s in self.stems:
            s.input_gain_db = round(s.input_gain_db, GAIN_DECIMALS)
            for p in s.chain:
                p.quantize()
        self.master_input_gain_db = round(self.master_input_gain_db, GAIN_DECIMALS)
        for p in self.master:
            p.quantize()
        return self

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        from automix.audio_io import write_text_atomic

        write_text_atomic(path, self.to_json())

    def relative_to(self, folder: str | os.PathLike) -> "MixSettings":
        """A copy whose stem paths are relative to ``folder`` (as a file written there names them); the chains
        are shared, not copied."""
        stems = [StemSettings(os.path.relpath(os.path.abspath(s.path), os.path.abspath(folder)), s.chain,
                              s.input_gain_db, s.source) for s in self.stems]
        return MixSettings(self.sample_rate, stems, self.master, self.schema, self.master_input_gain_db)

    def with_stem_paths(self, paths: list[str]) -> "MixSettings":
        """A copy whose stems read ``paths`` instead (same order, same count; the files' records are dropped)."""
        if len(paths) != len(self.stems):
            raise SettingsError(f"--stems gave {len(paths)} files but the settings have {len(self.stems)} stems")
        stems = [StemSettings(str(p), s.chain, s.input_gain_db) for p, s in zip(paths, self.stems)]
        return MixSettings(self.sample_rate, stems, self.master, self.schema, self.master_input_gain_db)

    @classmethod
    def from_dict(cls, data, source: str = "settings") -> "MixSettings":
        return _parse(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MixSettings":
        """Read and validate a settings JSON file; relative stem paths resolve next to it."""
        p = Path(path)
        if not p.is_file():
            raise SettingsError(f"{p}: settings file not found")
        try:
            data = json.loads(p.read_text(encoding="utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise SettingsError(f"{p}: not a text (UTF-8 JSON) file") from None
        except json.JSONDecodeError as e:
            raise SettingsError(f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        except ValueError as e:
            raise SettingsError(f"{p}: {e}") from None
        settings = _parse(data, str(p))
        for s in settings.stems:
            if not os.path.isabs(s.path):
                s.path = str((p.parent / s.path))
        return settings


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid number in settings")


def _keys(obj, allowed: set, required: set, where: str) -> None:
    if not isinstance(obj, dict):
        raise SettingsError(f"{where}: expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise SettingsError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(obj))
    if missing:
        raise SettingsError(f"{where}: missing key {missing[0]!r}")


def _chain(items, where: str) -> list[PluginSettings]:
    if not isinstance(items, list):
        raise SettingsError(f"{where}: chain must be a list")
    out = []
    for i, item in enumerate(items):
        w = f"{where} chain[{i}]"
        _keys(item, {"plugin", "params"}, {"plugin", "params"}, w)
        if not isinstance(item["plugin"], str):
            raise SettingsError(f"{w}: plugin must be a name")
        plugin = get_plugin(item["plugin"])
        try:
            params = plugin.validate(item["params"], f"{w} plugin {plugin.name!r}")
        except ParameterError as e:
            raise SettingsError(str(e)) from None
        out.append(PluginSettings(plugin.name, params))
    return out


def _parse(data, source: str) -> MixSettings:
    _keys(data, {"schema", "sample_rate", "stems", "master"}, {"schema", "sample_rate", "stems"}, source)
    if data["schema"] != SCHEMA:
        raise SettingsError(f"{source}: schema {data['schema']!r} is not supported; expected {SCHEMA!r}")
    sr = data["sample_rate"]
    if isinstance(sr, bool) or not isinstance(sr, int) or not (8000 <= sr <= 384000):
        raise SettingsError(f"{source}: sample_rate must be an integer in [8000, 384000], got {sr!r}")
    if not isinstance(data["stems"], list) or not data["stems"]:
        raise SettingsError(f"{source}: stems must be a non-empty list")
    stems = []
    for i, s in enumerate(data["stems"]):
        where = f"{source}: stem {i}"
        _keys(s, {"path", "chain", "input_gain_db", "source"}, {"path", "chain"}, where)
        if not isinstance(s["path"], str) or not s["path"]:
            raise SettingsError(f"{where}: path must be a file name")
        where = f"{source}: stem {i} ({s['path']})"
        stems.append(StemSettings(s["path"], _chain(s["chain"], where), _input_gain(s, where),
                                  _source(s.get("source"), where)))
    master = data.get("master", {"chain": []})
    where = f"{source}: master"
    _keys(master, {"chain", "input_gain_db"}, {"chain"}, where)
    return MixSettings(sr, stems, _chain(master["chain"], where), master_input_gain_db=_input_gain(master, where))


def _source(record, where: str) -> dict | None:
    if record is None:
        return None
    _keys(record, {"bytes", "sha256"}, {"bytes", "sha256"}, f"{where} source")
    size, digest = record["bytes"], record["sha256"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise SettingsError(f"{where} source: bytes must be a whole number >= 0, got {size!r}")
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise SettingsError(f"{where} source: sha256 must be 64 lower-case hex digits")
    return {"bytes": size, "sha256": digest}


def _input_gain(obj: dict, where: str) -> float:
    g = obj.get("input_gain_db", 0.0)
    lo, hi = INPUT_GAIN_RANGE_DB
    if isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g) or not lo <= g <= hi:
        raise SettingsError(f"{where}: input_gain_db={g!r} must be a number in [{lo:g}, {hi:g}]")
    return float(g)


def neutral_chain(names: tuple[str, ...]) -> list[PluginSettings]:
    """Default-parameter chain for the given plugin names."""
    return [PluginSettings(n, get_plugin(n).defaults()) for n in names]


#: the strip every stem gets (order matters: tone, dynamics, colour, level, image)
STEM_CHAIN = ("eq", "compressor", "saturation", "gain", "pan", "stereo_width")
#: the master bus: glue compression, tone, width, level, soft clip, ceiling. The tanh clipper
#: ahead of the limiter takes the loudest peaks so the limiter only shaves the last dB or two:
#: BrickwallLimiter holds its gain while the signal stays over the ceiling, so driving it
#: several dB makes a dynamic mix quieter, not louder.
MASTER_CHAIN = ("compressor", "eq", "stereo_width", "gain", "saturation", "limiter")
#: the master stages that shape tone and width, before the gain the master loop searches
MASTER_TONE_STAGES = MASTER_CHAIN[:MASTER_CHAIN.index("gain")]
