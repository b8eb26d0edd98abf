"""Parameter specs and the plugin record: the single source of truth per processor.

A :class:`Plugin` bundles the three things that must never drift apart:

* ``params``: one :class:`ParamSpec` per parameter (name with unit, range,
  default, scale). Everything else (validation, predictor mapping, CLI
  listing, settings templates) reads ranges from here.
* ``torch_fn(x, sample_rate, **params)``: differentiable processing of
  ``x`` shaped ``(batch, channels, samples)``; every parameter is a Python
  number or a tensor of shape ``(batch,)``.
* ``build(sample_rate, **params)``: the production twin, a list of stages
  for the streaming pedalboard engine. A stage is a ``pedalboard.Plugin`` or
  a :class:`NumpyNode` (for processors pedalboard lacks).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import sys
from typing import TYPE_CHECKING

import numpy as np

from automix.errors import ParameterError

if TYPE_CHECKING:
    import torch

SCALES = ("linear", "log", "bool")


def _is_tensor(x) -> bool:
    """True for a torch tensor, without importing torch (no torch loaded means no tensor exists)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


@dataclass(frozen=True)
class ParamSpec:
    """One plugin parameter.

    Attributes:
        name: keyword name, with its unit (``threshold_db``, ``attack_ms``).
        minimum, maximum: inclusive range in engineering units.
        default: the neutral / typical value, inside the range.
        scale: ``linear`` (dB, ratios), ``log`` (Hz, ms, Q: geometric
            mapping from the unit interval) or ``bool`` (0 or 1, not
            differentiable).
        doc: one line for ``automix plugins``.
        structural: True when the value changes the processor's structure
            (e.g. a lookahead length in samples) and so carries no gradient.
    """

    name: str
    minimum: float
    maximum: float
    default: float
    scale: str = "linear"
    doc: str = ""
    structural: bool = False

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"{self.name}: scale must be one of {SCALES}")
        if not (self.minimum <= self.default <= self.maximum):
            raise ValueError(f"{self.name}: default {self.default} outside [{self.minimum}, {self.maximum}]")
        if self.scale == "log" and self.minimum <= 0:
            raise ValueError(f"{self.name}: log scale needs a positive minimum")

    @property
    def decimals(self) -> int:
        """Decimal places a person edits this parameter at, and automix writes it at: 0.01 dB, 0.1 ms,
        0.1 Hz, 3 decimals for ratios, Q, mix, pan and width; flags are 0 or 1 (true/false in JSON)."""
        if self.scale == "bool":
            return 0
        if self.name.endswith("_db"):
            return 2
        if self.name.endswith(("_ms", "_hz")):
            return 1
        return 3

    def quantize(self, value: float) -> float:
        """``value`` at :attr:`decimals`, inside the range (a bound off the grid stays the bound)."""
        if self.scale == "bool":
            return 1.0 if value >= 0.5 else 0.0
        return min(max(round(float(value), self.decimals), self.minimum), self.maximum)

    @property
    def differentiable(self) -> bool:
        return self.scale != "bool" and not self.structural

    def from_unit(self, u):
        """Map ``u`` in [0, 1] (float or tensor) to engineering units."""
        if self.scale == "log":
            lo, hi = math.log(self.minimum), math.log(self.maximum)
            return u.mul(hi - lo).add(lo).exp() if _is_tensor(u) else math.exp(lo + u * (hi - lo))
        if self.scale == "bool":
            return (u > 0.5).to(u.dtype) if _is_tensor(u) else float(u > 0.5)
        return self.minimum + u * (self.maximum - self.minimum)

    def to_unit(self, value):
        """Inverse of :meth:`from_unit` (bool maps to 0.25 / 0.75)."""
        if self.scale == "log":
            lo, hi = math.log(self.minimum), math.log(self.maximum)
            return (value.log() - lo) / (hi - lo) if _is_tensor(value) else (math.log(value) - lo) / (hi - lo)
        if self.scale == "bool":
            return 0.25 + 0.5 * value
        span = self.maximum - self.minimum
        return (value - self.minimum) / span if span else value * 0.0

    def check(self, value, where: str) -> float:
        """Return ``value`` as float or raise :class:`ParameterError` naming ``where``."""
        if isinstance(value, bool) and self.scale != "bool":
            raise ParameterError(f"{where}: {self.name} must be a number, got {value!r}")
        if not isinstance(value, (int, float, bool, np.floating, np.integer)):
            raise ParameterError(f"{where}: {self.name} must be a number, got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise ParameterError(f"{where}: {self.name} must be finite, got {value!r}")
        if self.scale == "bool" and v not in (0.0, 1.0):
            raise ParameterError(f"{where}: {self.name} must be true/false (0 or 1), got {value!r}")
        if not (self.minimum <= v <= self.maximum):
            raise ParameterError(
                f"{where}: {self.name}={v:g} is out of range [{self.minimum:g}, {self.maximum:g}]; "
                "set it inside that range (`automix plugins` lists every parameter's range)"
            )
        return v


class NumpyNode:
    """A production stage computed in numpy or numba.

    ``fn`` maps a float32 block ``(channels, samples)`` to a float32 block,
    of the same length unless the stage has latency (then, as a pedalboard
    plugin does, it returns fewer frames at first and the engine's flush of
    silence pushes the rest out). Memoryless nodes stream trivially; a
    stateful one (a subclass such as :class:`automix.kernels.cascade.Cascade`)
    carries its state from block to block, one instance per stream.
    """

    def __init__(self, name: str, fn: Callable[[np.ndarray], np.ndarray]):
        self.name = name
        self.fn = fn

    def process(self, block: np.ndarray) -> np.ndarray:
        return self.fn(block)

    def __repr__(self) -> str:
        return f"NumpyNode({self.name})"


class GainInputNode(NumpyNode):
    """A stateful stage that can take the gain in front of it as a factor on its input (the production engine
    folds a pedalboard ``Gain`` followed by such a stage into it: the same float32 multiply, without a pass of
    its own). Subclasses multiply each input sample by :attr:`input_gain` first and say when they started."""

    def __init__(self, name: str, fn: Callable[[np.ndarray], np.ndarray]):
        super().__init__(name, fn)
        #: each input sample's factor before the stage's own arithmetic (1: none)
        self.input_gain = np.float32(1.0)

    def started(self) -> bool:
        """Whether a block went through already (the factor can no longer change)."""
        raise NotImplementedError

    def take_input_gain(self, factor: np.float32) -> bool:
        """Multiply every input sample by ``factor`` (float32) first, as a pedalboard ``Gain`` ahead would; whether
        it was taken: one gain only (two in a row round twice, which one factor would not), before the stream."""
        if self.started() or self.input_gain != 1:
            return False
        self.input_gain = np.float32(factor)
        return True


@dataclass(frozen=True)
class Plugin:
    """A registered processor: specs + torch function + production builder."""

    name: str
    params: tuple[ParamSpec, ...]
    torch_fn: Callable[..., torch.Tensor]
    build: Callable[..., list]
    doc: str = ""
    #: processing that needs the whole stereo image (limiter linking, width)
    stereo_only: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def spec(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params}

    def validate(self, params: dict, where: str) -> dict[str, float]:
        """Check a complete parameter dict; return it as floats in spec order."""
        if not isinstance(params, dict):
            raise ParameterError(f"{where}: params must be an object, got {type(params).__name__}")
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            raise ParameterError(
                f"{where}: unknown parameter {unknown[0]!r} for plugin {self.name!r}; "
                f"expected {', '.join(self.param_names)}"
            )
        missing = [n for n in self.param_names if n not in params]
        if missing:
            raise ParameterError(f"{where}: missing parameter {missing[0]!r} for plugin {self.name!r}")
        return {p.name: p.check(params[p.name], where) for p in self.params}


def specs(*items: ParamSpec) -> tuple[ParamSpec, ...]:
    names = [p.name for p in items]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate parameter names in {names}")
    return tuple(items)

