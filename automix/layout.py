"""The predictor's view of a chain: one flat vector of unit-interval values.

One function pair maps between :class:`~automix.settings.PluginSettings`
chains and flat vectors, in chain order and, within a plugin, spec order;
every range comes from the plugin specs (linear for dB, log for Hz/ms/Q).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from automix.settings import MASTER_CHAIN, STEM_CHAIN, PluginSettings
from automix.plugins import get_plugin
from automix.plugins.spec import ParamSpec, _is_tensor

if TYPE_CHECKING:  # torch is imported only by the code that hands over tensors (the numpy predictor runs without it)
    import torch


@dataclass(frozen=True)
class Slot:
    """One predicted parameter: which plugin (position in the chain) and its spec."""

    position: int
    plugin: str
    spec: ParamSpec

    @property
    def key(self) -> str:
        return f"{self.plugin}.{self.spec.name}"


def slots(chain: Sequence[str]) -> tuple[Slot, ...]:
    return tuple(Slot(i, name, spec) for i, name in enumerate(chain) for spec in get_plugin(name).params)


STEM_SLOTS = slots(STEM_CHAIN)
MASTER_SLOTS = slots(MASTER_CHAIN)


def flatten(chain: Sequence[PluginSettings], layout: Sequence[Slot]) -> list[float]:
    """Chain settings -> unit values ``(len(layout),)``; the chain must follow the layout's plugin order."""
    return [float(s.spec.to_unit(chain[s.position].params[s.spec.name])) for s in layout]


def unflatten(units, layout: Sequence[Slot], chain: Sequence[str]) -> list[PluginSettings]:
    """Unit values (floats or a 1-D tensor) -> chain settings in engineering units (floats)."""
    values = units.detach().cpu().double().tolist() if _is_tensor(units) else list(units)
    out = [PluginSettings(name, {}) for name in chain]
    for s, u in zip(layout, values):
        u = min(max(float(u), 0.0), 1.0)
        out[s.position].params[s.spec.name] = float(s.spec.from_unit(u))
    return out


def to_torch_chain(units: torch.Tensor, layout: Sequence[Slot], chain: Sequence[str]) -> list[tuple[str, dict]]:
    """Differentiable: unit tensor ``(batch, len(layout))`` -> torch-engine chain of ``(batch,)`` tensors."""
    stages: list[tuple[str, dict]] = [(name, {}) for name in chain]
    for j, s in enumerate(layout):
        stages[s.position][1][s.spec.name] = s.spec.from_unit(units[:, j])
    return stages
