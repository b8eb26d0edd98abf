"""The spectral meters' per-frame passes around the FFT, compiled: windowing with the frame energy, and the
magnitude of the transform.

numpy did each as several whole-array passes with temporaries (the windowed frames in float64, their float32
copy, the energy's products, the power's squares): about as long as the FFT itself. These loops make the same
float32 FFT input (each sample times the window in float64, rounded once to float32) and the same magnitudes
(``sqrt(re * re + im * im)`` in float32, each operation rounded as numpy rounds it); only the frame energy,
which the meters use to leave out frames 60 dB under the loudest, sums its squares in another order (a frame
could change sides of that threshold only within a rounding of it).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def window_frames(frames, window, out):  # pragma: no cover - compiled
    """``frames`` ``(n, N)`` float64 (any strides) times ``window`` ``(N,)`` float64 into ``out`` ``(n, N)``
    float32; returns each windowed frame's energy (sum of squares, float64) ``(n,)``."""
    energy = np.empty(frames.shape[0])
    for t in range(frames.shape[0]):
        e = 0.0
        for j in range(frames.shape[1]):
            w = frames[t, j] * window[j]
            e += w * w
            out[t, j] = np.float32(w)
        energy[t] = e
    return energy


@numba.njit(nogil=True, cache=True)
def magnitudes(spec, out):  # pragma: no cover - compiled
    """``|spec|`` of complex64 ``(n, K)`` into float32 ``out`` ``(n, K)``: ``sqrt(re * re + im * im)``, every
    operation in float32."""
    for t in range(spec.shape[0]):
        for k in range(spec.shape[1]):
            re = spec[t, k].real
            im = spec[t, k].imag
            out[t, k] = np.sqrt(re * re + im * im)
