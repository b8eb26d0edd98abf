"""Numba kernels for the JUCE peak-ballistics compressor (forward and reverse-time backward).

These are the hot loops behind :func:`automix.plugins.compressor.compressor`. They
replicate ``juce::dsp::Compressor<T>`` (the DSP inside ``pedalboard.Compressor``)
operation for operation, in the same precision ``T`` as the signal, so that the
float32 forward matches pedalboard's float32 render bit for bit. The backward is
a hand-written adjoint of the same recursion, evaluated in float64.

Per channel ``c`` of batch item ``b`` (parameters are per item ``b``)::

    a[n]   = |x[n]|
    k[n]   = a[n] > env[n-1]                      (attack branch, else release)
    coef   = c_att if k[n] else c_rel
    env[n] = a[n] + coef * (env[n-1] - a[n])      (env[-1] = env0, 0 for a fresh render)
    g[n]   = 1                                    if env[n] <  thr
           = (env[n] * thr_inv) ** p              otherwise, p = 1/ratio - 1
    y[n]   = g[n] * x[n]

Channels are independent (JUCE does not link them). The kernels release the
GIL (``nogil``) and are single-threaded on purpose: callers parallelise over
stems with threads, and numba's default thread pool must not be entered from
several Python threads at once.

Everything here imports only numpy, numba and math.
"""
from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["compressor_forward", "compressor_backward", "juce_compressor_params_f32", "juce_update",
           "envelope_histogram"]


@numba.njit(nogil=True, cache=True, inline="always")
def peak_envelope(prev, a, cte_at, cte_rl):
    """One step of the JUCE peak ballistics: ``env[n]`` from ``env[n-1]`` and ``a = |x[n]|``."""
    cte = cte_at if a > prev else cte_rl
    return a + cte * (prev - a)


@numba.njit(nogil=True, cache=True)
def juce_compressor_params_f32(threshold_db, attack_ms, release_ms, makeup_db, exp_factor):
    """JUCE's float32 parameter arithmetic for ``Compressor<float>`` followed by ``Gain<float>``.

    Args:
        threshold_db, attack_ms, release_ms, makeup_db: float64 arrays ``(batch,)``
            in dB / ms (each is rounded to float32 first, as pybind does when it
            hands a Python float to a ``float`` setter).
        exp_factor: ``-2*pi*1000/sample_rate`` in float64, evaluated in JUCE's order.

    Returns:
        float64 arrays ``(batch,)`` holding exactly representable float32 values:
        threshold gain ``powf(10, dB*0.05f)`` (0 at or below -200 dB), attack and
        release coefficients ``(float) exp(exp_factor / (double) t_ms)`` (0 below
        0.001 ms), and the makeup factor ``powf(10, dB*0.05f)`` (0 at or below -100 dB).

    Why numba: ``math.pow`` on float32 operands compiles to a call of the C
    library's ``powf`` and ``math.exp`` to its ``exp``, which are the very
    functions JUCE calls; a float64 ``pow`` rounded to float32 differs in about
    1 of 2000 arguments (double rounding).
    """
    n = threshold_db.shape[0]
    thr = np.empty(n, np.float64)
    cat = np.empty(n, np.float64)
    crl = np.empty(n, np.float64)
    mk = np.empty(n, np.float64)
    ten = np.float32(10.0)
    twentieth = np.float32(0.05)
    tiny = np.float32(1.0e-3)
    for i in range(n):
        db = np.float32(threshold_db[i])
        thr[i] = math.pow(ten, db * twentieth) if db > np.float32(-200.0) else 0.0
        t = np.float32(attack_ms[i])
        cat[i] = np.float32(math.exp(exp_factor / np.float64(t))) if not (t < tiny) else 0.0
        t = np.float32(release_ms[i])
        crl[i] = np.float32(math.exp(exp_factor / np.float64(t))) if not (t < tiny) else 0.0
        db = np.float32(makeup_db[i])
        mk[i] = math.pow(ten, db * twentieth) if db > np.float32(-100.0) else 0.0
    return thr, cat, crl, mk


def juce_update(threshold, ratio, dtype):
    """JUCE's ``Compressor::update()``: ``(1 / threshold, 1 / ratio - 1)`` rounded step by step in ``dtype`` (the
    signal's; JUCE stores the reciprocal and multiplies by it). Scalars or arrays, elementwise."""
    t = dtype.type if isinstance(dtype, np.dtype) else np.dtype(dtype).type
    one = t(1.0)
    return (one / np.asarray(threshold, t)).astype(t), ((one / np.asarray(ratio, t)).astype(t) - one).astype(t)


@numba.njit(nogil=True, cache=True)
def compressor_forward(x, cte_at, cte_rl, threshold, threshold_inv, exponent, env0, y, env):
    """Forward pass of the JUCE compressor in the precision of ``x``.

    Args:
        x: input ``(batch, channels, samples)``, float32 or float64.
        cte_at, cte_rl: attack / release coefficients ``(batch,)``, dtype of ``x``.
        threshold: linear threshold ``(batch,)``, dtype of ``x``.
        threshold_inv: ``1 / threshold`` rounded in the dtype of ``x`` (JUCE
            stores the reciprocal and multiplies by it).
        exponent: ``1/ratio - 1`` rounded step by step in the dtype of ``x``.
        env0: envelope state before the first sample ``(batch, channels)``.
        y: output, same shape and dtype as ``x`` (written).
        env: envelope ``(batch, channels, samples)`` (written); the backward
            pass needs it and re-derives both branch choices from it exactly.

    Every operation stays in the dtype of ``x`` (no float64 literals enter the
    arithmetic), so float32 input reproduces JUCE's float32 rounding.

    Shape: x, y, env ``(B, C, N)``; parameters ``(B,)``; env0 ``(B, C)``.
    """
    nb, nc, ns = x.shape
    for b in range(nb):
        ca = cte_at[b]
        cr = cte_rl[b]
        thr = threshold[b]
        thr_inv = threshold_inv[b]
        p = exponent[b]
        for c in range(nc):
            prev = env0[b, c]
            for n in range(ns):
                xn = x[b, c, n]
                e = peak_envelope(prev, abs(xn), ca, cr)
                env[b, c, n] = e
                prev = e
                if e < thr:
                    # gain 1.0: JUCE multiplies by exactly one, i.e. copies
                    y[b, c, n] = xn
                else:
                    y[b, c, n] = math.pow(e * thr_inv, p) * xn


@numba.njit(nogil=True, cache=True)
def compressor_backward(x, env, env0, cte_at, cte_rl, threshold, exponent, gy, gx,
                        g_at, g_rl, g_thr, g_exp):
    """Reverse-time adjoint of :func:`compressor_forward`, in float64.

    Branch choices (attack vs release, above vs below threshold) are those of
    the forward pass: they are recomputed from the stored float values, and a
    comparison of exactly stored numbers gives the same answer in any
    precision, so no flag array is needed. With ``lam[n] = dL/d env[n]``::

        lam[n]   = lam[n+1] * coef[n+1] + [above] * gy[n] * x[n] * p * g[n] / env[n]
        dL/dx[n] = gy[n] * g[n] + lam[n] * (1 - coef[n]) * sign(x[n])
        dL/dcoef += lam[n] * (env[n-1] - a[n])      (into attack or release)
        dL/dthr  -= [above] * gy[n] * x[n] * p * g[n] / thr
        dL/dp    += [above] * gy[n] * x[n] * g[n] * log(env[n] / thr)

    Args:
        x, env: as in the forward pass (any float dtype).
        env0: initial envelope ``(batch, channels)``.
        cte_at, cte_rl, threshold, exponent: float64 ``(batch,)`` holding the
            exact values the forward pass used.
        gy: upstream gradient ``(batch, channels, samples)``.
        gx: gradient w.r.t. ``x`` (written; cast to its dtype on store).
        g_at, g_rl, g_thr, g_exp: float64 ``(batch,)`` (overwritten) gradients
            w.r.t. the two coefficients, the linear threshold and ``p``.

    Shape: x, env, gy, gx ``(B, C, N)``; parameters and gradients ``(B,)``.
    """
    nb, nc, ns = x.shape
    for b in range(nb):
        ca = np.float64(cte_at[b])
        cr = np.float64(cte_rl[b])
        thr = np.float64(threshold[b])
        p = np.float64(exponent[b])
        acc_at = 0.0
        acc_rl = 0.0
        acc_thr = 0.0
        acc_p = 0.0
        for c in range(nc):
            lam = 0.0  # dL/d env[n], carried backwards in time
            for n in range(ns - 1, -1, -1):
                xn = np.float64(x[b, c, n])
                e = np.float64(env[b, c, n])
                prev = np.float64(env[b, c, n - 1]) if n > 0 else np.float64(env0[b, c])
                go = np.float64(gy[b, c, n])
                a = abs(xn)
                if e < thr:
                    gxn = go
                else:
                    # one log + one exp instead of pow + log
                    lr = math.log(e / thr)
                    g = math.exp(p * lr)
                    dg = go * xn * g  # dL/dg * g
                    gxn = go * g
                    if e > 0.0:
                        lam += dg * p / e
                    acc_thr -= dg * p / thr
                    acc_p += dg * lr
                if a > prev:
                    cte = ca
                    acc_at += lam * (prev - a)
                else:
                    cte = cr
                    acc_rl += lam * (prev - a)
                if xn > 0.0:
                    gxn += lam * (1.0 - cte)
                elif xn < 0.0:
                    gxn -= lam * (1.0 - cte)
                gx[b, c, n] = gxn
                lam *= cte
        g_at[b] = acc_at
        g_rl[b] = acc_rl
        g_thr[b] = acc_thr
        g_exp[b] = acc_p


@numba.njit(nogil=True, cache=True)
def envelope_histogram(x, cte_at, cte_rl, env0, upper, cell, grid, cells_later):
    """Add each sample's energy ``x[c, n]**2`` to the grid cell its peak envelope falls in (float64).

    Args:
        x: block ``(channels, samples)``.
        cte_at, cte_rl: attack / release coefficients (scalars).
        env0: envelope per channel before the block ``(channels,)``; updated in place.
        upper: upper edge of each cell but the last, linear amplitude, increasing ``(cells - 1,)``.
        cell: current cell per channel ``(channels,)`` int64; updated in place.
        grid: energy per cell ``(cells,)``; accumulated in place.
        cells_later: scratch ``(samples,)`` int64.

    Why a kernel: the envelope is a recursion, and the cell search walks from the previous sample's cell
    (an envelope moves a few cells at most per sample), so no per-sample logarithm or temporary array is
    needed; the numpy version of the same histogram took 3x the whole loudness and spectrum meter.

    The grid receives the first channel's energies in sample order, then the second's (each block), and a
    cell's running sum stays in a register while the envelope stays in it: the same additions in the same
    order as one ``grid[i] += x*x`` per sample, channel after channel. The two channels' envelopes advance
    together (their recurrences overlap); the second's cells wait in ``cells_later`` for their turn.
    """
    top = grid.shape[0] - 1
    n = x.shape[1]
    if x.shape[0] != 2:
        for c in range(x.shape[0]):
            prev = env0[c]
            i = cell[c]
            for k in range(n):
                prev = peak_envelope(prev, abs(x[c, k]), cte_at, cte_rl)
                while i < top and prev >= upper[i]:
                    i += 1
                while i > 0 and prev < upper[i - 1]:
                    i -= 1
                cells_later[k] = i
            env0[c] = prev
            cell[c] = i
            _add_energies(x[c], cells_later, grid)
        return
    e0, e1 = env0[0], env0[1]
    i, j = cell[0], cell[1]
    held = i
    acc = grid[i]
    for k in range(n):
        a = x[0, k]
        b = x[1, k]
        e0 = peak_envelope(e0, abs(a), cte_at, cte_rl)
        e1 = peak_envelope(e1, abs(b), cte_at, cte_rl)
        while i < top and e0 >= upper[i]:
            i += 1
        while i > 0 and e0 < upper[i - 1]:
            i -= 1
        if i != held:
            grid[held] = acc
            acc = grid[i]
            held = i
        acc += a * a
        while j < top and e1 >= upper[j]:
            j += 1
        while j > 0 and e1 < upper[j - 1]:
            j -= 1
        cells_later[k] = j
    grid[held] = acc
    env0[0], env0[1] = e0, e1
    cell[0], cell[1] = i, j
    _add_energies(x[1], cells_later, grid)


@numba.njit(nogil=True, cache=True, inline="always")
def _add_energies(x, cells, grid):
    """``grid[cells[k]] += x[k]**2`` in sample order, a cell's sum kept in a register while it lasts."""
    if x.shape[0] == 0:
        return
    held = cells[0]
    acc = grid[held]
    for k in range(x.shape[0]):
        c = cells[k]
        if c != held:
            grid[held] = acc
            acc = grid[c]
            held = c
        v = x[k]
        acc += v * v
    grid[held] = acc
