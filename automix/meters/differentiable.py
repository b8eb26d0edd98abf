"""Differentiable torch versions of the meters, for training and refinement.

Same definitions as the numpy meters (see :mod:`automix.meters`), batched over
``(batch, channels, samples)`` with 1 or 2 channels (mono = dual mono). Each
function computes in float64 and returns the input's floating dtype.

- :func:`loudness_torch`: BS.1770-4 integrated loudness (LUFS). K-weighting is
  applied as a linear convolution through the FFT (the filter's exact
  frequency response on a grid padded by 0.25 s, past which its impulse
  response is below 1e-13), blocks are pyloudnorm's, and the two gates are
  chosen without gradient (the selected blocks are a constant; the loudness
  is differentiable in the samples through their energies).
- :func:`spectral_centroid_torch`, :func:`band_balance_torch`: the same Hann
  frames and 60 dB frame selection (chosen without gradient) as
  :mod:`automix.meters.spectral`.
- :func:`ms_ratio_torch`: ``RMS(S) / RMS(M)``.

Silence gives ``-inf`` loudness, centroid 0, band balance 0 and M/S 0, and
``L = -R`` gives an M/S of ``inf``, as in numpy; the gradient of those items is
0 (never NaN).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from automix.meters.loudness import (
    ABSOLUTE_GATE_LUFS, BLOCK_S, RELATIVE_GATE_LU, k_weighting_sos, momentary_bounds,
)
from automix.meters.spectral import FRAME_FLOOR_DB, analysis_tables, frame_size

__all__ = ["loudness_torch", "spectral_centroid_torch", "ms_ratio_torch", "band_balance_torch"]

_TAIL_S = 0.25


def _check(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[1] not in (1, 2):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected a tensor (batch, channels, samples) with 1 or 2 channels, got {shape}; "
                         f"downmix to stereo first")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating tensor, got {x.dtype}")
    return x.to(torch.float64)


def _out(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return value.to(like.dtype)


def _next_fast(n: int) -> int:
    import scipy.fft

    return scipy.fft.next_fast_len(n, real=True)


def _k_weight(x: torch.Tensor, sample_rate: float, filter_class: str) -> torch.Tensor:
    """K-weighting of ``x`` ``(..., n)`` float64, zero initial state, via the FFT."""
    n = x.shape[-1]
    nfft = _next_fast(n + int(math.ceil(_TAIL_S * sample_rate)) + 1)
    sos = k_weighting_sos(sample_rate, filter_class)
    z1 = np.exp(-2j * np.pi * np.arange(nfft // 2 + 1) / nfft)
    z2 = z1 * z1
    resp = np.ones_like(z1)
    for b0, b1, b2, a0, a1, a2 in sos:
        resp *= (b0 + b1 * z1 + b2 * z2) / (a0 + a1 * z1 + a2 * z2)
    h = torch.as_tensor(resp, dtype=torch.complex128, device=x.device)
    return torch.fft.irfft(torch.fft.rfft(x, n=nfft) * h, n=nfft)[..., :n]


def loudness_torch(x: torch.Tensor, sample_rate: float, *, filter_class: str = "K-weighting") -> torch.Tensor:
    """Integrated loudness (LUFS, ITU-R BS.1770-4 gating), differentiable in ``x``.

    Agrees with :func:`automix.meters.analyze` (and pyloudnorm) to float64
    round-off. Gating masks are computed without gradient.

    Args:
        x: audio, 1 (dual mono) or 2 channels.
        sample_rate: Hz.
        filter_class: ``"K-weighting"`` (pyloudnorm default) or ``"DeMan"``.

    Shape: x ``(batch, channels, samples)`` -> ``(batch,)``.
    """
    x64 = _check(x)
    batch, channels, n = x64.shape
    if n == 0:
        return _out(torch.full((batch,), -math.inf, dtype=torch.float64, device=x.device), x)
    y = _k_weight(x64, sample_rate, filter_class)
    z2 = (y * y).sum(dim=1) * (2.0 if channels == 1 else 1.0)
    cs = torch.nn.functional.pad(torch.cumsum(z2, dim=-1), (1, 0))
    starts, ends = momentary_bounds(n, sample_rate)
    starts = torch.as_tensor(starts, device=x.device)
    ends = torch.as_tensor(ends, device=x.device)
    energy = (cs[:, ends] - cs[:, starts]) * (1.0 / (BLOCK_S * sample_rate))
    with torch.no_grad():
        e = energy.clamp_min(0.0)
        lufs = -0.691 + 10.0 * torch.log10(e)
        above = lufs >= ABSOLUTE_GATE_LUFS
        mean_above = (e * above).sum(-1) / above.sum(-1).clamp_min(1)
        relative = -0.691 + 10.0 * torch.log10(mean_above) + RELATIVE_GATE_LU
        keep = (lufs > relative[:, None]) & (lufs > ABSOLUTE_GATE_LUFS) & above.any(-1, keepdim=True)
        count = keep.sum(-1)
    mean = (energy * keep).sum(-1) / count.clamp_min(1)
    ok = count > 0
    safe = torch.where(ok, mean, torch.ones_like(mean))
    out = torch.where(ok, -0.691 + 10.0 * torch.log10(safe), torch.full_like(mean, -math.inf))
    return _out(out, x)


def _mid(x64: torch.Tensor) -> torch.Tensor:
    return x64[:, 0] if x64.shape[1] == 1 else 0.5 * (x64[:, 0] + x64[:, 1])


def _frame_spectra(x64: torch.Tensor, sample_rate: float):
    """Magnitude and power spectra ``(batch, frames, bins)`` of the mid signal and the keep mask."""
    mid = _mid(x64)
    n = mid.shape[-1]
    frame = frame_size(sample_rate)
    hop = frame // 2
    count = 1 if n <= frame else 1 + (n - frame) // hop  # complete frames only
    mid = torch.nn.functional.pad(mid, (0, (count - 1) * hop + frame - n))
    window, weights, bands = analysis_tables(sample_rate)
    frames = mid.unfold(-1, frame, hop) * torch.tensor(window, device=x64.device)
    spec = torch.fft.rfft(frames)
    power = spec.real ** 2 + spec.imag ** 2
    mag = spec.abs()  # d|z| at z = 0 is 0 in torch, not NaN
    with torch.no_grad():
        energy = (2.0 * power.sum(-1) - power[..., 0] - power[..., -1]) / frame
        loudest = energy.max(dim=-1, keepdim=True).values
        keep = (energy >= loudest * 10.0 ** (FRAME_FLOOR_DB / 10.0)) & (loudest > 0)
    return mag, power, keep, weights, bands


def spectral_centroid_torch(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Spectral centroid (Hz) of the time-averaged magnitude spectrum of the mid signal.

    Hann frames of 4096 (at 44.1/48 kHz) hop 2048; frames more than 60 dB below the
    loudest left out (without gradient). 0 for silence.

    Shape: x ``(batch, channels, samples)`` -> ``(batch,)``.
    """
    x64 = _check(x)
    mag, _, keep, weights, _ = _frame_spectra(x64, sample_rate)
    w = torch.tensor(weights, device=x64.device)
    sums = ((mag @ w) * keep[..., None]).sum(dim=1)  # (batch, 2): sum f|X|, sum |X|
    ok = sums[:, 1] > 0
    den = torch.where(ok, sums[:, 1], torch.ones_like(sums[:, 1]))
    return _out(torch.where(ok, sums[:, 0] / den, torch.zeros_like(den)), x)


def band_balance_torch(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Energy shares ``[low, mid, high]`` (< 250 Hz, 250 Hz - 4 kHz, > 4 kHz) of the mid signal.

    Same frames and selection as :func:`spectral_centroid_torch`; rows sum to 1
    (all 0 for silence).

    Shape: x ``(batch, channels, samples)`` -> ``(batch, 3)``.
    """
    x64 = _check(x)
    _, power, keep, _, bands = _frame_spectra(x64, sample_rate)
    b = torch.tensor(bands, device=x64.device)
    e = ((power @ b) * keep[..., None]).sum(dim=1)  # (batch, 3)
    total = e.sum(-1, keepdim=True)
    ok = total > 0
    return _out(torch.where(ok, e / torch.where(ok, total, torch.ones_like(total)), torch.zeros_like(e)), x)


def ms_ratio_torch(x: torch.Tensor) -> torch.Tensor:
    """``RMS(S) / RMS(M)``, ``M = (L + R) / 2``, ``S = (L - R) / 2``.

    0 for mono, identical channels or silence; ``inf`` (zero gradient) for
    ``L = -R`` exactly.

    Shape: x ``(batch, channels, samples)`` -> ``(batch,)``.
    """
    x64 = _check(x)
    if x64.shape[1] == 1:
        return _out(x64.sum(dim=(1, 2)) * 0.0, x)
    mid = 0.5 * (x64[:, 0] + x64[:, 1])
    side = 0.5 * (x64[:, 0] - x64[:, 1])
    em = (mid * mid).sum(-1)
    es = (side * side).sum(-1)
    em_safe = torch.where(em > 0, em, torch.ones_like(em))
    es_safe = torch.where(es > 0, es, torch.ones_like(es))
    ratio = torch.sqrt(es_safe / em_safe)
    out = torch.where(em > 0, torch.where(es > 0, ratio, torch.zeros_like(ratio)),
                      torch.where(es > 0, torch.full_like(ratio, math.inf), torch.zeros_like(ratio)))
    return _out(out, x)
