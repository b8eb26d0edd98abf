"""Cascaded biquads in JUCE's arithmetic, with a hand-written float64 backward.

Each section is ``[b0, b1, b2, a1, a2]`` (normalised, ``a0 = 1``) and runs as
JUCE's ``juce::dsp::IIR::Filter`` does, in transposed direct form II with zero
initial state and exactly this operation order::

    out = in * b0 + s1
    s1  = in * b1 - out * a1 + s2
    s2  = in * b2 - out * a2

in the dtype of the signal (float32 gives JUCE's float32 results bit for bit
when the coefficients are JUCE's float32 values; float64 is for gradcheck and
float64 rendering). A first-order section is a biquad with ``b2 = a2 = 0``:
``s2`` is then +-0 and JUCE's first-order loop (``s1 = in*b1 - out*a1``) gives
identical numbers. The sections of a cascade are run sample by sample inside
one loop (:func:`automix.kernels.cascade.run_block`, the production EQ's
kernel), which is bit-identical to running each filter over the whole
buffer in turn and keeps the independent per-section recurrences in flight
together.

Backward (float64 throughout): for one section ``y = (B/A) x`` and incoming
gradient ``g``, the adjoint of the all-pole part is the anti-causal recursion
``u[n] = g[n] - a1 u[n+1] - a2 u[n+2]``; then

* ``dL/dx[n]  = b0 u[n] + b1 u[n+1] + b2 u[n+2]`` (the filter run time-reversed),
* ``dL/db_k   = sum_n u[n] x[n-k]``,
* ``dL/da_k   = -sum_n u[n] y[n-k]``.

The backward re-runs the forward for one row at a time to recover every
section's input instead of saving ``sections x batch x channels x samples``
intermediates, so memory stays at one row of intermediates.

Known differences from JUCE: JUCE snaps filter state within +-1e-8 to zero at
the end of each processed block (and hosts may flush denormals); this kernel
does neither. That only matters in near-silence and changes samples by less
than about 1e-8 absolute (below -160 dBFS).

CPU only (numba); tensors on other devices are processed on the CPU and
returned on their device.
"""
from __future__ import annotations

import numba
import numpy as np
import torch

from automix.kernels.cascade import run_block

__all__ = ["sosfilt", "sosfilt_np"]


@numba.njit(cache=True, nogil=True)
def _forward(x, sos, y):
    """y[b, c] = cascade of sos[b] applied to x[b, c] from zero state; dtype follows x."""
    for b in range(x.shape[0]):
        state = np.zeros((x.shape[1], sos.shape[1], 2), dtype=x.dtype)
        run_block(x[b], sos[b], state, y[b], False)


@numba.njit(cache=True, nogil=True)
def _adjoint_section(v, xk, yk, b0, b1, b2, a1, a2, need_sos, acc):
    """One section's adjoint over one row, in place on ``v`` (float64).

    On entry ``v`` is dL/d(section output); on exit dL/d(section input).
    Adds dL/d[b0, b1, b2, a1, a2] into ``acc`` when ``need_sos``.
    """
    n = v.shape[0]
    u1 = 0.0
    u2 = 0.0
    g0 = 0.0
    g1 = 0.0
    g2 = 0.0
    g3 = 0.0
    g4 = 0.0
    if need_sos:
        # Samples i >= 2 first, so the hot loop has no boundary branches.
        for i in range(n - 1, 1, -1):
            u = v[i] - a2 * u2 - a1 * u1
            g0 += u * xk[i]
            g1 += u * xk[i - 1]
            g2 += u * xk[i - 2]
            g3 -= u * yk[i - 1]
            g4 -= u * yk[i - 2]
            v[i] = b0 * u + b1 * u1 + b2 * u2
            u2 = u1
            u1 = u
        for i in range(min(n - 1, 1), -1, -1):
            u = v[i] - a2 * u2 - a1 * u1
            g0 += u * xk[i]
            if i == 1:
                g1 += u * xk[0]
                g3 -= u * yk[0]
            v[i] = b0 * u + b1 * u1 + b2 * u2
            u2 = u1
            u1 = u
        acc[0] += g0
        acc[1] += g1
        acc[2] += g2
        acc[3] += g3
        acc[4] += g4
    else:
        for i in range(n - 1, -1, -1):
            u = v[i] - a2 * u2 - a1 * u1
            v[i] = b0 * u + b1 * u1 + b2 * u2
            u2 = u1
            u1 = u


@numba.njit(cache=True, nogil=True)
def _backward(x, sos_run, sos64, g, need_x, need_sos, gx, gsos):
    """Gradients of a cascade. ``sos_run`` (x's dtype) re-runs the forward,
    ``sos64`` is the same values in float64 for the adjoint. ``g`` (any float
    dtype) is read into a float64 row; ``gx`` (any float dtype, like x)
    receives the float64 result rounded once; ``gsos`` (float64) accumulates.
    """
    n_batch, n_chan, n = x.shape
    n_sec = sos_run.shape[1]
    zero = x.dtype.type(0.0)
    # sig[k] is the input of section k; sig[n_sec] is the cascade output.
    sig = np.empty((n_sec + 1, n if need_sos else 0), dtype=x.dtype)
    s1 = np.empty(n_sec, dtype=x.dtype)
    s2 = np.empty(n_sec, dtype=x.dtype)
    v = np.empty(n)
    for b in range(n_batch):
        for c in range(n_chan):
            if need_sos:
                for k in range(n_sec):
                    s1[k] = zero
                    s2[k] = zero
                for i in range(n):
                    w = x[b, c, i]
                    sig[0, i] = w
                    for k in range(n_sec):
                        out = w * sos_run[b, k, 0] + s1[k]
                        s1[k] = w * sos_run[b, k, 1] - out * sos_run[b, k, 3] + s2[k]
                        s2[k] = w * sos_run[b, k, 2] - out * sos_run[b, k, 4]
                        w = out
                        sig[k + 1, i] = w
            for i in range(n):
                v[i] = g[b, c, i]
            # Last section first: the adjoint of a cascade is the reversed
            # cascade of adjoints.
            for k in range(n_sec - 1, -1, -1):
                _adjoint_section(
                    v, sig[k], sig[k + 1] if need_sos else sig[k],
                    sos64[b, k, 0], sos64[b, k, 1], sos64[b, k, 2], sos64[b, k, 3], sos64[b, k, 4],
                    need_sos, gsos[b, k],
                )
            if need_x:
                for i in range(n):
                    gx[b, c, i] = v[i]


def _check(x: np.ndarray, sos: np.ndarray) -> None:
    if x.ndim != 3 or sos.ndim != 3 or sos.shape[2] != 5 or sos.shape[0] != x.shape[0]:
        raise ValueError(
            f"expected x (batch, channels, samples) and sos (batch, sections, 5), "
            f"got {tuple(x.shape)} and {tuple(sos.shape)}"
        )
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"IIR kernel runs in float32 or float64, got {x.dtype}")


def sosfilt_np(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Run a cascade of JUCE-order biquads over a numpy buffer (no gradients).

    Args:
        x: signal, float32 or float64.
        sos: sections ``[b0, b1, b2, a1, a2]``, cast to ``x.dtype``.

    Shape: x ``(batch, channels, samples)``, sos ``(batch, sections, 5)`` -> like x.
    """
    x = np.ascontiguousarray(x)
    sos = np.ascontiguousarray(sos, dtype=x.dtype)
    _check(x, sos)
    y = np.empty_like(x)
    _forward(x, sos, y)
    return y


class _SosFilt(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, sos):
        xn = x.detach().cpu().contiguous().numpy()
        sos_run = sos.detach().cpu().to(x.dtype).contiguous().numpy()
        y = np.empty_like(xn)
        _forward(xn, sos_run, y)
        ctx.save_for_backward(x, sos)
        return torch.from_numpy(y).to(x.device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        x, sos = ctx.saved_tensors
        need_x, need_sos = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if not (need_x or need_sos):
            return None, None
        xn = x.detach().cpu().contiguous().numpy()
        sos_cpu = sos.detach().cpu()
        sos_run = sos_cpu.to(x.dtype).contiguous().numpy()
        # The adjoint uses the coefficients the forward actually ran with,
        # but in float64 (float32 values are exact in float64).
        sos64 = torch.from_numpy(sos_run).to(torch.float64).numpy()
        # g is widened to float64 row by row inside the kernel, and grad_x is
        # written in x's dtype there: no full-size float64 copies.
        g = grad_y.detach().cpu().contiguous().numpy()
        gx = np.empty(xn.shape, dtype=xn.dtype) if need_x else np.empty((1, 1, 1), dtype=xn.dtype)
        gsos = np.zeros(sos64.shape)
        _backward(xn, sos_run, sos64, g, need_x, need_sos, gx, gsos)
        grad_x = torch.from_numpy(gx).to(device=x.device) if need_x else None
        grad_sos = torch.from_numpy(gsos).to(device=sos.device, dtype=sos.dtype) if need_sos else None
        return grad_x, grad_sos


def sosfilt(x: torch.Tensor, sos: torch.Tensor) -> torch.Tensor:
    """Differentiable cascade of JUCE-order biquads (numba forward and backward).

    The forward runs in ``x.dtype`` (float32 or float64) with ``sos`` rounded
    to that dtype; pass JUCE's float32 coefficient values to reproduce
    pedalboard bit for bit. Gradients with respect to ``x`` and ``sos`` are
    computed in float64 (see the module docstring) and returned in the
    inputs' dtypes. Channels of one batch item share its sections. Not twice
    differentiable.

    Args:
        x: signal.
        sos: per-item sections ``[b0, b1, b2, a1, a2]`` with ``a0 = 1``.

    Shape: x ``(batch, channels, samples)``, sos ``(batch, sections, 5)`` -> like x.
    """
    if x.ndim != 3 or sos.ndim != 3 or sos.shape[2] != 5 or sos.shape[0] != x.shape[0]:
        raise ValueError(
            f"expected x (batch, channels, samples) and sos (batch, sections, 5), "
            f"got {tuple(x.shape)} and {tuple(sos.shape)}"
        )
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"IIR kernel runs in float32 or float64, got {x.dtype}")
    return _SosFilt.apply(x, sos)
