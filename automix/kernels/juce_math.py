"""JUCE's float32 scalar arithmetic, evaluated with the same libm calls.

numba compiles ``math.pow`` on float32 operands to the C library's ``powf``,
the very function JUCE's ``Decibels::decibelsToGain<float>`` calls, so these
values are bit-identical to pedalboard's (a float64 ``pow`` rounded to
float32 differs in about 1 of 2000 arguments by double rounding).
"""
from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def _decibels_to_gain_f32(db, floor_db):
    out = np.empty(db.shape[0], np.float64)
    ten = np.float32(10.0)
    twentieth = np.float32(0.05)
    for i in range(db.shape[0]):
        d = np.float32(db[i])
        out[i] = math.pow(ten, d * twentieth) if d > np.float32(floor_db) else 0.0
    return out


def decibels_to_gain_f32(db, floor_db: float = -100.0) -> np.ndarray:
    """``powf(10, float(dB) * 0.05f)`` (0 at or below ``floor_db``) as exact float32 values in float64.

    Shape: any -> ``(n,)`` (flattened).
    """
    return _decibels_to_gain_f32(np.ascontiguousarray(np.asarray(db, np.float64).reshape(-1)), floor_db)


@numba.njit(nogil=True, cache=True)
def _tanhf(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])


def tanh_f32(x: np.ndarray) -> np.ndarray:
    """Elementwise ``tanhf`` (the C library's, as JUCE's Distortion calls it) on a float32 array."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
    _tanhf(flat, out)
    return out.reshape(np.shape(x))
