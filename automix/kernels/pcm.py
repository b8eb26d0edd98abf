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


#: libsndfile's float-to-24-bit factor (pcm.c's clipping writer: the float times 2**31, its top 24 bits kept)
_PCM24_SCALE = np.float32(2147483648.0)


@numba.njit(nogil=True, cache=True)
def encode_pcm24(block, out):  # pragma: no cover - compiled
    """Planar float32 ``block`` ``(channels, n)`` to interleaved int32 ``out`` ``(n, channels)`` holding the 24-bit
    sample libsndfile's float writer makes of each float, in the top three bytes (libsndfile's int writer keeps
    exactly those, so the file's bytes are the float writer's): the float times ``2**31`` in float32, clipped
    at full scale, rounded with ``lrintf`` (to nearest, halves to even), its low byte dropped (a floor)."""
    for i in range(block.shape[1]):
        for c in range(block.shape[0]):
            scaled = block[c, i] * _PCM24_SCALE
            if scaled >= 2147483647.0:
                out[i, c] = np.int32(0x7FFFFF00)
            elif scaled <= -2147483648.0:
                out[i, c] = np.int32(-2147483648)
            else:
                out[i, c] = np.int32(np.int64(np.rint(scaled)) & ~np.int64(0xFF))
