"""Gain: ``y = x * 10^(gain_db/20)``. Twin: ``pedalboard.Gain`` (bit-exact in float32).

Differentiable in ``gain_db``. For float32 signals the factor is JUCE's exact
float32 ``powf(10, float(dB)*0.05f)`` (bit-exact with pedalboard) carrying the
gradient of the float64 formula; float64 signals use the float64 formula.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from automix.dsp import MINUS_INFINITY_DB, as_batch_param
from automix.plugins.spec import ParamSpec, Plugin, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(ParamSpec("gain_db", -60.0, 30.0, 0.0, "linear", "level change in dB"))


def gain(x: torch.Tensor, sample_rate: int, *, gain_db) -> torch.Tensor:
    """Apply a gain in dB.

    Shape: x ``(batch, channels, samples)`` -> same.
    """
    import torch

    from automix.kernels.juce_math import decibels_to_gain_f32

    db = as_batch_param(gain_db, x.shape[0], dtype=torch.float64, device=x.device)
    factor = torch.where(db > MINUS_INFINITY_DB, torch.pow(10.0, db * 0.05), torch.zeros_like(db))
    if x.dtype == torch.float32:
        exact = torch.from_numpy(decibels_to_gain_f32(db.detach().cpu().numpy())).to(factor.device)
        factor = factor + (exact - factor).detach()
    return x * factor.to(x.dtype)[:, None, None]


def build(sample_rate: int, *, gain_db: float) -> list:
    import pedalboard  # here, not at import: the specs (styles, settings, CLI) load without it

    return [pedalboard.Gain(gain_db=gain_db)]


def production_factor(gain_db: float) -> np.float32:
    """The float32 factor pedalboard's ``Gain`` multiplies every sample by (0 at -100 dB and below): what it makes
    of a one. The fused production passes (:mod:`automix.kernels.postfader`, :mod:`automix.kernels.saturate`)
    multiply by exactly this."""
    import pedalboard

    one = np.ones((1, 1), np.float32)
    return pedalboard.Gain(gain_db=gain_db).process(one, 44100.0, reset=True)[0, 0]


PLUGIN = Plugin("gain", PARAMS, gain, build, doc="Static gain (pedalboard Gain).")
