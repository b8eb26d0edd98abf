"""Shared DSP math: the one leaf module every plugin and engine builds on.

Imports only numpy and torch; nothing in automix or plugins is imported here.
All formulas follow JUCE (as used by pedalboard 0.9.26) so that the torch twin
and the pedalboard graph compute the same numbers; see GUIDE section 5.
"""
from __future__ import annotations

import math

import numpy as np
import torch

#: JUCE's Decibels::decibelsToGain treats anything at or below this as silence.
MINUS_INFINITY_DB = -100.0


def db_to_amp(db):
    """Decibels to linear amplitude (20*log10 law). Works on floats, arrays, tensors."""
    if isinstance(db, torch.Tensor):
        return torch.pow(10.0, db / 20.0)
    if isinstance(db, (int, float)):
        return 10.0 ** (db / 20.0)
    return np.power(10.0, np.asarray(db, dtype=np.float64) / 20.0)


def amp_to_db(amp, floor_db: float = -200.0):
    """Linear amplitude to decibels, floored at ``floor_db`` for zero/negative input."""
    if isinstance(amp, torch.Tensor):
        return 20.0 * torch.log10(torch.clamp(amp.abs(), min=10.0 ** (floor_db / 20.0)))
    a = np.maximum(np.abs(np.asarray(amp, dtype=np.float64)), 10.0 ** (floor_db / 20.0))
    out = 20.0 * np.log10(a)
    return float(out) if out.ndim == 0 else out


def juce_time_coefficient(time_ms, sample_rate: float):
    """JUCE BallisticsFilter one-pole coefficient ``exp(-2*pi*1000/(fs*t_ms))``.

    "10 ms" in JUCE is therefore a one-pole with a 1.59 ms time constant. Times
    below 1 microsecond give 0 (instant). Works on floats, arrays and tensors.
    """
    if isinstance(time_ms, torch.Tensor):
        c = torch.exp(-2.0 * math.pi * 1000.0 / (sample_rate * torch.clamp(time_ms, min=1e-3)))
        return torch.where(time_ms < 1e-3, torch.zeros_like(c), c)
    t = np.asarray(time_ms, dtype=np.float64)
    c = np.exp(-2.0 * math.pi * 1000.0 / (sample_rate * np.maximum(t, 1e-3)))
    c = np.where(t < 1e-3, 0.0, c)
    return float(c) if c.ndim == 0 else c


def as_batch_param(value, batch: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Broadcast a scalar/sequence/tensor parameter to a tensor of shape ``(batch,)``.

    Plugins accept every parameter either as a Python number (same for every
    item) or as a tensor of shape ``(batch,)`` (one value per stem), so the
    torch engine can render many stems with different settings in one call.
    """
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(value, dtype=dtype, device=device)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"parameter must be a scalar or shape ({batch},), got {tuple(t.shape)}")
    return t


def to_stereo_np(x: np.ndarray) -> np.ndarray:
    """``(channels, samples)`` mono or stereo -> stereo; mono is duplicated (dual mono)."""
    if x.shape[0] == 1:
        return np.repeat(x, 2, axis=0)
    return x
