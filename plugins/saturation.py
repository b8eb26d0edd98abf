"""Saturation: ``y = tanh(x * 10^(drive_db/20)) * 10^(trim_db/20)``.

Twin: ``pedalboard.Distortion(drive_db)`` followed by ``pedalboard.Gain(trim_db)``.
JUCE's Distortion has no makeup and no dry/wet, hence the trim. Note that
``drive_db = 0`` is still ``tanh(x)``: gentle, but not transparent on hot
material. Differentiable in both parameters.
"""
from __future__ import annotations

import pedalboard
import torch

from plugins.gain import gain
from plugins.spec import ParamSpec, Plugin, specs

PARAMS = specs(
    ParamSpec("drive_db", 0.0, 36.0, 0.0, "linear", "gain into the tanh shaper"),
    ParamSpec("trim_db", -36.0, 12.0, 0.0, "linear", "output level after the shaper"),
)


def saturation(x: torch.Tensor, sample_rate: int, *, drive_db, trim_db) -> torch.Tensor:
    """Shape: x ``(batch, channels, samples)`` -> same."""
    return gain(torch.tanh(gain(x, sample_rate, gain_db=drive_db)), sample_rate, gain_db=trim_db)


def build(sample_rate: int, *, drive_db: float, trim_db: float) -> list:
    return [pedalboard.Distortion(drive_db=drive_db), pedalboard.Gain(gain_db=trim_db)]


PLUGIN = Plugin("saturation", PARAMS, saturation, build, doc="tanh drive + output trim (pedalboard Distortion + Gain).")
