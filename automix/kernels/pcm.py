"""Integer PCM bytes to planar float32 in one pass: a stem read's decode, deinterleave and dual-mono copy.

libsndfile turns a ``w``-byte sample into a float by placing its bytes in the top of a 32-bit integer and
multiplying by ``1 / 2**31``: for 16- and 24-bit samples the product is exact (the integer fits float32's
24-bit mantissa, the factor is a power of two), for 32-bit ones the integer is first rounded to float32.
This kernel computes the same value (the sample over ``2**(8w - 1)``, rounded the same way), so its floats
are libsndfile's bit for bit (tested against it on every width, byte order and channel count), and writes
them straight into the reader's ``(2, n)`` layout where libsndfile's interleaved floats needed a transpose.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, inline="always")
def _loop(raw, out, channels, width, big_endian):  # pragma: no cover - compiled
    scale = np.float32(2.0 ** (1 - 8 * width))
    half = np.int64(1) << (8 * width - 1)
    full = np.int64(1) << (8 * width)
    for i in range(out.shape[1]):
        for c in range(channels):
            p = (i * channels + c) * width
            v = np.int64(0)
            for b in range(width):
                v |= np.int64(raw[p + (width - 1 - b if big_endian else b)]) << (8 * b)
            out[c, i] = np.float32(v - full if v >= half else v) * scale
        if channels == 1:
            out[1, i] = out[0, i]


@numba.njit(nogil=True, cache=True)
def decode_pcm(raw, channels, width, big_endian, out):  # pragma: no cover - compiled
    """``raw``: uint8 ``(frames * channels * width,)`` interleaved signed PCM, ``width`` 2, 3 or 4 bytes;
    ``out``: float32 ``(2, frames)`` (a mono file fills both rows)."""
    # every layout spelled out with constants: the compiler then unrolls the byte and channel loops and
    # vectorises the frame loop (about ten times faster than one loop over variables)
    if big_endian:
        if channels == 2:
            if width == 2:
                _loop(raw, out, 2, 2, True)
            elif width == 3:
                _loop(raw, out, 2, 3, True)
            else:
                _loop(raw, out, 2, 4, True)
        elif width == 2:
            _loop(raw, out, 1, 2, True)
        elif width == 3:
            _loop(raw, out, 1, 3, True)
        else:
            _loop(raw, out, 1, 4, True)
    elif channels == 2:
        if width == 2:
            _loop(raw, out, 2, 2, False)
        elif width == 3:
            _loop(raw, out, 2, 3, False)
        else:
            _loop(raw, out, 2, 4, False)
    elif width == 2:
        _loop(raw, out, 1, 2, False)
    elif width == 3:
        _loop(raw, out, 1, 3, False)
    else:
        _loop(raw, out, 1, 4, False)
