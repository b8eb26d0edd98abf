"""Shared DSP math: the one leaf module every plugin and engine builds on.

Imports only numpy (and torch inside the torch helpers, so the production
pedalboard path never loads torch); nothing in automix or plugins is imported here.
All formulas follow JUCE (as used by pedalboard 0.9.26) so that the torch twin
and the pedalboard graph compute the same numbers: parity is set by arithmetic
(float32 coefficients rounded once from float64 libm values), not by the formulas alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: JUCE's Decibels::decibelsToGain treats anything at or below this as silence.
MINUS_INFINITY_DB = -100.0


def as_batch_param(value, batch: int, *, dtype=None, device=None) -> torch.Tensor:
    """Broadcast a scalar/sequence/tensor parameter to a tensor of shape ``(batch,)``.

    Plugins accept every parameter either as a Python number (same for every
    item) or as a tensor of shape ``(batch,)`` (one value per stem), so the
    torch engine can render many stems with different settings in one call.
    ``dtype`` defaults to ``torch.float64``.
    """
    import torch

    if dtype is None:
        dtype = torch.float64
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(value, dtype=dtype, device=device)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"parameter must be a scalar or shape ({batch},), got {tuple(t.shape)}")
    return t




# ---------------------------------------------------------------------------
# JUCE IIR coefficient design (pedalboard's HighpassFilter, LowShelfFilter,
# PeakFilter, HighShelfFilter). Two views of the same formula:
#   * juce_iir_f32: the float32 values JUCE computes, bit for bit;
#   * juce_iir_torch: the same design in float64 torch, differentiable.
# Both return sections as [b0, b1, b2, a1, a2] normalised by a0 (a0 = 1
# implied); first-order sections carry b2 = a2 = 0, which JUCE's second-order
# loop would reproduce exactly (the extra terms are +-0).
# ---------------------------------------------------------------------------

#: Filter kinds understood by :func:`juce_iir_f32` and :func:`juce_iir_torch`.
IIR_KINDS = ("highpass1", "low_shelf", "peak", "high_shelf")

#: pedalboard's default shelf Q, ``float(sqrt2) / 2`` (equal to float32(1/sqrt 2)).
JUCE_SHELF_Q = float(np.float32(math.sqrt(2.0)) / np.float32(2.0))


def _load_libm():
    # pedalboard calls the platform libm's float functions (sinf, cosf, tanf,
    # powf), which are not correctly rounded: glibc 2.36 differs from
    # float64-then-round on about 1.3% of arguments. Calling the very same
    # functions is what makes the coefficients (and so the audio) bit-exact.
    for name in ("libm.so.6", ctypes.util.find_library("m"), "libm.dylib"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            for fn in ("sinf", "cosf", "tanf", "expf"):
                f = getattr(lib, fn)
                f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
            lib.powf.restype, lib.powf.argtypes = ctypes.c_float, [ctypes.c_float, ctypes.c_float]
            return lib
        except (OSError, AttributeError):
            continue
    return None


_LIBM = _load_libm()

#: True when the platform libm was loaded; False means the float32 functions
#: below fall back to float64-then-round (1 ulp off on ~1% of arguments, which
#: costs about -120 to -145 dB of parity instead of bit-exactness).
LIBM_EXACT = _LIBM is not None


def _f32_unary(name: str, fallback, x) -> np.float32:
    x = np.float32(x)
    if _LIBM is not None:
        return np.float32(getattr(_LIBM, name)(float(x)))
    return np.float32(fallback(float(x)))


def sinf(x) -> np.float32:
    """float32 ``sinf`` as the platform libm computes it (what JUCE/pedalboard use)."""
    return _f32_unary("sinf", math.sin, x)


def cosf(x) -> np.float32:
    """float32 ``cosf`` as the platform libm computes it."""
    return _f32_unary("cosf", math.cos, x)


def tanf(x) -> np.float32:
    """float32 ``tanf`` as the platform libm computes it."""
    return _f32_unary("tanf", math.tan, x)


def expf(x) -> np.float32:
    """float32 ``expf`` as the platform libm computes it (BrickwallLimiter's release coefficient)."""
    return _f32_unary("expf", math.exp, x)


def powf(x, y) -> np.float32:
    """float32 ``powf`` as the platform libm computes it."""
    x, y = np.float32(x), np.float32(y)
    if _LIBM is not None:
        return np.float32(_LIBM.powf(float(x), float(y)))
    return np.float32(float(x) ** float(y))


def juce_clamp_cutoff_f32(cutoff_hz, sample_rate: float) -> np.float32:
    """pedalboard's ``clampCutoffFrequency``: ``jlimit(0.01f, fs/2 - 100f, f)`` in float32."""
    f = np.float32(cutoff_hz)
    hi = np.float32(sample_rate) / np.float32(2.0) - np.float32(100.0)
    return min(max(f, np.float32(0.01)), hi)


def juce_iir_f32(kind: str, sample_rate: float, cutoff_hz, q=JUCE_SHELF_Q, gain_db=0.0) -> np.ndarray:
    """One JUCE IIR section exactly as pedalboard computes it (float32, bit-exact).

    Follows ``juce::dsp::IIR::ArrayCoefficients<float>`` (makeFirstOrderHighPass,
    makeLowShelf, makePeakFilter, makeHighShelf) operation by operation in
    float32, with pedalboard's parameter handling: cutoff, Q and gain are
    stored as float; the gain factor is ``powf(10, dB * 0.05f)`` (0 at or below
    -100 dB); shelves and peaks clamp the cutoff with
    :func:`juce_clamp_cutoff_f32` and then to at least 2 Hz. The high-pass is
    not clamped by pedalboard; callers keep it below Nyquist.

    Args:
        kind: one of :data:`IIR_KINDS`.
        sample_rate: in Hz.
        cutoff_hz: cutoff / centre frequency in Hz.
        q: quality factor (ignored by ``highpass1``).
        gain_db: shelf / peak gain in dB (ignored by ``highpass1``).

    Returns:
        float32 array ``[b0, b1, b2, a1, a2]`` normalised by ``a0``.
    """
    f32 = np.float32
    one, two = f32(1.0), f32(2.0)
    pi = f32(math.pi)
    fs = f32(sample_rate)
    if kind == "highpass1":
        n = tanf((pi * f32(cutoff_hz)) / fs)
        inv = one / (n + one)
        return np.array([one * inv, -one * inv, 0.0, (n - one) * inv, 0.0], dtype=np.float32)
    if kind not in IIR_KINDS:
        raise ValueError(f"unknown IIR kind {kind!r}; expected one of {IIR_KINDS}")
    db = f32(gain_db)
    gain = powf(10.0, db * f32(0.05)) if db > f32(MINUS_INFINITY_DB) else f32(0.0)
    a_lin = max(f32(0.0), np.sqrt(gain))  # sqrt is correctly rounded in float32
    f = max(juce_clamp_cutoff_f32(cutoff_hz, sample_rate), two)
    omega = ((two * pi) * f) / fs
    q = f32(q)
    if kind == "peak":
        alpha = sinf(omega) / (q * two)
        c2 = f32(-2.0) * cosf(omega)
        at, ao = alpha * a_lin, alpha / a_lin
        b0, b1, b2, a0, a1, a2 = one + at, c2, one - at, one + ao, c2, one - ao
    else:
        am1, ap1 = a_lin - one, a_lin + one
        coso = cosf(omega)
        beta = sinf(omega) * np.sqrt(a_lin) / q
        amc = am1 * coso
        if kind == "low_shelf":
            b0 = a_lin * (ap1 - amc + beta)
            b1 = a_lin * two * (am1 - ap1 * coso)
            b2 = a_lin * (ap1 - amc - beta)
            a0 = ap1 + amc + beta
            a1 = f32(-2.0) * (am1 + ap1 * coso)
            a2 = ap1 + amc - beta
        else:
            b0 = a_lin * (ap1 + amc + beta)
            b1 = a_lin * f32(-2.0) * (am1 + ap1 * coso)
            b2 = a_lin * (ap1 + amc - beta)
            a0 = ap1 - amc + beta
            a1 = two * (am1 - ap1 * coso)
            a2 = ap1 - amc - beta
    inv = one / a0
    return np.array([b0 * inv, b1 * inv, b2 * inv, a1 * inv, a2 * inv], dtype=np.float32)


def juce_iir_torch(kind: str, sample_rate: float, cutoff_hz, q=JUCE_SHELF_Q, gain_db=0.0) -> torch.Tensor:
    """The design of :func:`juce_iir_f32` in float64 torch, differentiable.

    Same formulas and clamps, exact arithmetic (no float32 rounding), so its
    values differ from JUCE's by float32 round-off only. Use it for gradients
    (straight-through onto :func:`juce_iir_f32`) and for float64 rendering.

    Args:
        kind: one of :data:`IIR_KINDS`.
        sample_rate: in Hz.
        cutoff_hz, q, gain_db: tensors of shape ``(batch,)`` (or broadcastable).

    Returns:
        ``[b0, b1, b2, a1, a2]`` normalised by ``a0``.

    Shape: parameters ``(batch,)`` -> ``(batch, 5)``.
    """
    import torch

    f = torch.as_tensor(cutoff_hz, dtype=torch.float64)
    fs = float(sample_rate)
    if kind == "highpass1":
        n = torch.tan(math.pi * f / fs)
        zero = torch.zeros_like(n)
        return torch.stack([1.0 / (n + 1.0), -1.0 / (n + 1.0), zero, (n - 1.0) / (n + 1.0), zero], dim=-1)
    if kind not in IIR_KINDS:
        raise ValueError(f"unknown IIR kind {kind!r}; expected one of {IIR_KINDS}")
    q = torch.as_tensor(q, dtype=torch.float64)
    db = torch.as_tensor(gain_db, dtype=torch.float64)
    a_lin = torch.pow(10.0, db / 40.0)  # sqrt(10^(dB/20))
    f = torch.clamp(torch.clamp(f, 0.01, fs / 2.0 - 100.0), min=2.0)
    omega = 2.0 * math.pi * f / fs
    b0, b1, b2, a0, a1, a2 = rbj_terms(kind, torch.sin(omega), torch.cos(omega), a_lin, torch.sqrt(a_lin), q)
    return torch.stack([b0, b1, b2, a1, a2], dim=-1) / a0.unsqueeze(-1)


def rbj_terms(kind: str, sin_o, cos_o, a_lin, sqrt_a, q) -> tuple:
    """The RBJ cookbook's ``(b0, b1, b2, a0, a1, a2)`` of a peak or shelf (not normalised), from ``sin(w0)``,
    ``cos(w0)``, ``A = 10^(dB/40)``, ``sqrt(A)`` and ``Q``: arithmetic only, so numpy arrays and torch tensors
    alike (the float64 designs of :func:`juce_iir_torch` and :func:`automix.inference.eq_sections`)."""
    if kind == "peak":
        alpha = sin_o / (2.0 * q)
        c2 = -2.0 * cos_o
        return 1.0 + alpha * a_lin, c2, 1.0 - alpha * a_lin, 1.0 + alpha / a_lin, c2, 1.0 - alpha / a_lin
    am1, ap1 = a_lin - 1.0, a_lin + 1.0
    beta = sin_o * sqrt_a / q
    amc = am1 * cos_o
    if kind == "low_shelf":
        return (a_lin * (ap1 - amc + beta), 2.0 * a_lin * (am1 - ap1 * cos_o), a_lin * (ap1 - amc - beta),
                ap1 + amc + beta, -2.0 * (am1 + ap1 * cos_o), ap1 + amc - beta)
    if kind == "high_shelf":
        return (a_lin * (ap1 + amc + beta), -2.0 * a_lin * (am1 + ap1 * cos_o), a_lin * (ap1 + amc - beta),
                ap1 - amc + beta, 2.0 * (am1 - ap1 * cos_o), ap1 - amc - beta)
    raise ValueError(f"unknown IIR kind {kind!r}")


def hann_periodic(n: int) -> np.ndarray:
    """The periodic Hann window of ``n`` points (float64), operation for operation as
    ``scipy.signal.get_window("hann", n, fftbins=True)`` computes it (the meters' window without importing
    ``scipy.signal``, about 0.5 s of every mix's start-up)."""
    if n <= 1:
        return np.ones(n, dtype=np.float64)
    fac = np.linspace(-np.pi, np.pi, n + 1, dtype=np.float64)
    w = np.zeros(n + 1, dtype=np.float64)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    return w[:-1]


def sos_response(sos: np.ndarray, freqs, sample_rate: float) -> np.ndarray:
    """Complex response of cascaded sections ``[b0, b1, b2, a0, a1, a2]`` at ``freqs`` (Hz), operation for
    operation as ``scipy.signal.sosfreqz(sos, worN=freqs, fs=sample_rate)`` computes it.

    Shape: sos ``(sections, 6)``, freqs ``(n,)`` -> ``(n,)`` complex128.
    """
    w = 2 * math.pi * np.atleast_1d(np.asarray(freqs, dtype=np.float64)) / float(sample_rate)
    zm1 = np.exp(-1j * w)

    def polyval(c):  # Horner from the highest power, as numpy.polynomial.polyval does
        c0 = np.full(zm1.shape, c[-1], dtype=np.complex128)
        for i in range(2, c.shape[0] + 1):
            c0 = c[-i] + c0 * zm1
        return c0

    h = 1.0
    for row in np.asarray(sos, dtype=np.float64):
        h *= polyval(row[:3]) / polyval(row[3:])
    return h
