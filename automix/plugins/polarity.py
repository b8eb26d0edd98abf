"""Polarity: optionally invert the signal. Twin: ``pedalboard.Invert`` (bit-exact).

``invert`` is a bool parameter (0 or 1), so it is not differentiable.
"""
from __future__ import annotations

from typing import TYPE_CHECKING


from automix.dsp import as_batch_param
from automix.plugins.spec import ParamSpec, Plugin, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(ParamSpec("invert", 0.0, 1.0, 0.0, "bool", "1 flips the polarity of every channel"))


def polarity(x: torch.Tensor, sample_rate: int, *, invert) -> torch.Tensor:
    """Shape: x ``(batch, channels, samples)`` -> same."""
    flip = as_batch_param(invert, x.shape[0], dtype=x.dtype, device=x.device)
    return x * (1.0 - 2.0 * flip)[:, None, None]


def build(sample_rate: int, *, invert: float) -> list:
    import pedalboard  # here, not at import: the specs (styles, settings, CLI) load without it

    return [pedalboard.Invert()] if invert >= 0.5 else []


PLUGIN = Plugin("polarity", PARAMS, polarity, build, doc="Polarity inversion (pedalboard Invert).")
