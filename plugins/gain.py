"""Gain: ``y = x * 10^(gain_db/20)``. Twin: ``pedalboard.Gain`` (bit-exact in float32).

Differentiable in ``gain_db``. The factor is evaluated in float64 and rounded
once to the signal dtype, which equals JUCE's float32 ``powf(10, dB*0.05)``.
"""
from __future__ import annotations

import pedalboard
import torch

from automix.dsp import as_batch_param
from plugins.spec import ParamSpec, Plugin, specs

PARAMS = specs(ParamSpec("gain_db", -60.0, 30.0, 0.0, "linear", "level change in dB"))


def gain(x: torch.Tensor, sample_rate: int, *, gain_db) -> torch.Tensor:
    """Apply a gain in dB.

    Shape: x ``(batch, channels, samples)`` -> same.
    """
    db = as_batch_param(gain_db, x.shape[0], dtype=torch.float64)
    db = db.to(torch.float32).to(torch.float64) if x.dtype == torch.float32 else db
    factor = torch.pow(10.0, db * 0.05)
    factor = torch.where(db > -100.0, factor, torch.zeros_like(factor))
    return x * factor.to(x.dtype)[:, None, None]


def build(sample_rate: int, *, gain_db: float) -> list:
    return [pedalboard.Gain(gain_db=gain_db)]


PLUGIN = Plugin("gain", PARAMS, gain, build, doc="Static gain (pedalboard Gain).")
