r"""Compressor: JUCE's peak-ballistics, hard-knee, per-channel compressor plus makeup gain.

Twin: ``pedalboard.Compressor(threshold_db, ratio, attack_ms, release_ms)``
followed by ``pedalboard.Gain(makeup_db)`` (JUCE's compressor has no makeup).

Math, per channel (channels are NOT linked), envelope starting at 0:

.. math::

    e[n] = |x[n]| + c[n]\,(e[n-1] - |x[n]|), \qquad
    c[n] = \begin{cases} c_a & |x[n]| > e[n-1] \\ c_r & \text{otherwise} \end{cases}

    c_{a,r} = \exp\!\Big(\frac{-2\pi \cdot 1000}{f_s \, t_{ms}}\Big)
    \quad (0 \text{ for } t_{ms} < 0.001)

    y[n] = m \, x[n] \cdot \begin{cases} 1 & e[n] < T \\
        (e[n] / T)^{1/R - 1} & \text{otherwise} \end{cases},
    \qquad T = 10^{\theta/20},\; m = 10^{\mu/20}

with threshold :math:`\theta` (``threshold_db``), ratio :math:`R`, makeup
:math:`\mu` (``makeup_db``). Note JUCE's time convention: "10 ms" is a one-pole
with a 1.59 ms time constant (the ``2*pi`` in the exponent).

Parity: on float32 input the forward pass runs JUCE's float32 arithmetic in
JUCE's order (float32 envelope, ``powf`` of ``e * (1/T)``, float32 parameter
rounding, float64 ``exp`` for the coefficients), so it matches pedalboard bit
for bit in practice (see ``tests/test_compressor.py``). Float64 input runs the
same recursion in float64 (JUCE's ``Compressor<double>``), used for gradcheck.

Known differences from the twin: none measured on x86-64 Linux (every tested
setting is bit-exact). A pedalboard build whose compiler contracts the
envelope update into a fused multiply-add (possible on ARM) would differ in the
last float32 bit, around -130 dB. No knee, no stereo link, no sidechain: the
twin has none either.

Differentiable w.r.t. ``x`` and every parameter. The gradient is that of the
piecewise-smooth function with the attack/release and above/below-threshold
choices held fixed (they are discontinuities of the true function, where the
gradient is a one-sided one).
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from automix.dsp import as_batch_param
from automix.errors import ParameterError
from automix.plugins.spec import ParamSpec, Plugin, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(
    ParamSpec("threshold_db", -60.0, 0.0, 0.0, "linear", "level (peak envelope, dBFS) above which gain is reduced"),
    ParamSpec("ratio", 1.0, 20.0, 1.0, "log", "compression ratio above threshold (1 = no compression)"),
    ParamSpec("attack_ms", 0.1, 100.0, 10.0, "log", "JUCE attack time in ms (time constant is t/(2*pi))"),
    ParamSpec("release_ms", 10.0, 1000.0, 100.0, "log", "JUCE release time in ms (time constant is t/(2*pi))"),
    ParamSpec("makeup_db", 0.0, 24.0, 0.0, "linear", "gain after compression in dB"),
)


@functools.cache
def _ballistics_function():
    """The autograd Function, defined on first use: importing the plugin must not import torch."""
    import torch
    from torch.autograd.function import once_differentiable

    from automix.kernels.ballistics import compressor_backward, compressor_forward, juce_update

    class BallisticsCompressor(torch.autograd.Function):
        """Autograd wrapper of the numba kernels in :mod:`automix.kernels.ballistics`.

        ``apply(x, cte_at, cte_rl, threshold, ratio) -> y`` (no makeup).

        Args:
            x: ``(batch, channels, samples)`` float32 or float64 (CPU or any device;
                the kernel runs on CPU).
            cte_at, cte_rl: attack / release one-pole coefficients ``(batch,)`` in
                [0, 1), float64 tensors holding values representable in ``x.dtype``.
            threshold: linear threshold ``(batch,)`` (> 0), same representability.
            ratio: compression ratio ``(batch,)`` (>= 1); rounded to ``x.dtype``
                like JUCE's ``float`` setter.

        The backward is a float64 reverse-time pass (:func:`compressor_backward`);
        only the envelope is stored (same dtype as ``x``), the branch choices are
        re-derived from it exactly. Not twice differentiable.

        Shape: x ``(B, C, N)``, parameters ``(B,)`` -> y ``(B, C, N)``.
        """

        @staticmethod
        def forward(ctx, x, cte_at, cte_rl, threshold, ratio):
            xn = x.detach().cpu().contiguous().numpy()
            dt = xn.dtype.type
            b, c, _ = xn.shape
            ca = cte_at.detach().cpu().numpy().astype(dt)
            cr = cte_rl.detach().cpu().numpy().astype(dt)
            thr = threshold.detach().cpu().numpy().astype(dt)
            rat = ratio.detach().cpu().numpy().astype(dt)
            thr_inv, expo = juce_update(thr, rat, xn.dtype)
            env0 = np.zeros((b, c), dtype=xn.dtype)
            y = np.empty_like(xn)
            env = np.empty_like(xn)
            compressor_forward(xn, ca, cr, thr, thr_inv, expo, env0, y, env)
            ctx.env = env
            ctx.env0 = env0
            # float64 copies of the exact values used, for the backward
            ctx.params = tuple(v.astype(np.float64) for v in (ca, cr, thr, expo, rat))
            ctx.save_for_backward(x)
            return torch.from_numpy(y).to(x.device)

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_y):
            (x,) = ctx.saved_tensors
            ca, cr, thr, expo, rat = ctx.params
            xn = x.detach().cpu().contiguous().numpy()
            gy = grad_y.detach().cpu().to(x.dtype).contiguous().numpy()
            gx = np.empty_like(xn)
            b = xn.shape[0]
            g_at, g_rl, g_thr, g_exp = (np.zeros(b, np.float64) for _ in range(4))
            compressor_backward(xn, ctx.env, ctx.env0, ca, cr, thr, expo, gy, gx, g_at, g_rl, g_thr, g_exp)
            # p = 1/R - 1  =>  dp/dR = -1/R^2
            g_ratio = -g_exp / (rat * rat)
            dev = x.device

            def out(v, dtype=torch.float64):
                return torch.from_numpy(v).to(device=dev, dtype=dtype)

            return (
                out(gx, x.dtype) if ctx.needs_input_grad[0] else None,
                out(g_at) if ctx.needs_input_grad[1] else None,
                out(g_rl) if ctx.needs_input_grad[2] else None,
                out(g_thr) if ctx.needs_input_grad[3] else None,
                out(g_ratio) if ctx.needs_input_grad[4] else None,
            )

    return BallisticsCompressor


def __getattr__(name: str):
    # PEP 562: ``BallisticsCompressor`` stays importable from this module, built on first use
    if name == "BallisticsCompressor":
        return _ballistics_function()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _exact(smooth: torch.Tensor, exact: np.ndarray) -> torch.Tensor:
    """Value of ``exact`` with the gradient of ``smooth`` (straight-through).

    ``smooth`` is the float64 formula; ``exact`` is JUCE's float32 evaluation of
    it (within an ulp of float32), so the gradient is the formula's derivative.
    ``smooth + (exact - smooth)`` is exact: the difference of two close doubles
    is exactly representable (Sterbenz), and so is the sum.
    """
    import torch

    ex = torch.as_tensor(exact, dtype=torch.float64, device=smooth.device)
    return smooth + (ex - smooth).detach()


def compressor(x: torch.Tensor, sample_rate: float, *, threshold_db, ratio, attack_ms, release_ms,
               makeup_db) -> torch.Tensor:
    """Compress ``x`` exactly like ``pedalboard.Compressor`` then ``pedalboard.Gain(makeup_db)``.

    Args:
        x: audio ``(batch, channels, samples)``, float32 (pedalboard parity) or
            float64 (gradcheck); any other dtype is processed in float32.
        sample_rate: in Hz (> 0).
        threshold_db: threshold in dBFS of the peak envelope, range -60..0.
        ratio: compression ratio (>= 1; 1 is no compression), range 1..20.
        attack_ms: JUCE attack time in ms, range 0.1..100 (one-pole time
            constant is ``attack_ms / (2*pi)``).
        release_ms: JUCE release time in ms, range 10..1000.
        makeup_db: gain applied after compression in dB, range 0..24.

    Each parameter is a Python number or a tensor of shape ``(batch,)`` (one
    value per stem). Ranges are enforced by settings validation, not here;
    here only ``ratio >= 1`` (as pedalboard) and finiteness are checked.

    Returns:
        The compressed signal, same dtype and device as ``x``. Differentiable
        w.r.t. ``x`` and all five parameters (branch choices held fixed).

    Shape: x ``(B, C, N)`` -> ``(B, C, N)``; parameters scalar or ``(B,)``.
    """
    import torch

    from automix.kernels.ballistics import juce_compressor_params_f32

    if x.ndim != 3:
        raise ParameterError(f"compressor: x must be (batch, channels, samples), got shape {tuple(x.shape)}")
    if not (sample_rate > 0):
        raise ParameterError(f"compressor: sample_rate must be positive, got {sample_rate!r}")
    orig_dtype = x.dtype
    if x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    bsz = x.shape[0]
    dev = x.device
    p = {
        name: as_batch_param(v, bsz, dtype=torch.float64, device=dev).to(torch.float64)
        for name, v in (("threshold_db", threshold_db), ("ratio", ratio), ("attack_ms", attack_ms),
                        ("release_ms", release_ms), ("makeup_db", makeup_db))
    }
    for name, v in p.items():
        if not bool(torch.isfinite(v).all()):
            raise ParameterError(f"compressor: {name} must be finite, got {v.detach().cpu().tolist()}")
    if bool((p["ratio"] < 1.0).any()):
        raise ParameterError(f"compressor: ratio must be >= 1, got {p['ratio'].detach().cpu().tolist()}")

    # JUCE: expFactor = -2.0 * pi * 1000.0 / sampleRate, in double, in this order
    exp_factor = -2.0 * math.pi * 1000.0 / float(sample_rate)

    def coef(t_ms):
        c = torch.exp(exp_factor / torch.clamp(t_ms, min=1e-3))
        return torch.where(t_ms < 1e-3, torch.zeros_like(c), c)

    thr = torch.pow(10.0, p["threshold_db"] * 0.05)
    thr = torch.where(p["threshold_db"] > -200.0, thr, torch.zeros_like(thr))
    mk = torch.pow(10.0, p["makeup_db"] * 0.05)
    mk = torch.where(p["makeup_db"] > -100.0, mk, torch.zeros_like(mk))
    cat = coef(p["attack_ms"])
    crl = coef(p["release_ms"])
    if x.dtype == torch.float32:
        # replace the values by JUCE's float32 evaluation, keep the float64 gradients
        ex = juce_compressor_params_f32(
            # contiguous copies: expanded scalars have stride 0, which would make
            # numba compile (and cache) a second, strided specialisation
            *(np.ascontiguousarray(p[k].detach().cpu().numpy())
              for k in ("threshold_db", "attack_ms", "release_ms", "makeup_db")),
            exp_factor,
        )
        thr, cat, crl, mk = (_exact(s, e) for s, e in zip((thr, cat, crl, mk), ex))

    y = _ballistics_function().apply(x, cat, crl, thr, p["ratio"])
    # pedalboard.Gain: one float32 multiply by the rounded factor
    y = y * mk.to(x.dtype)[:, None, None]
    return y.to(orig_dtype)


def build(sample_rate: float, *, threshold_db: float, ratio: float, attack_ms: float, release_ms: float,
          makeup_db: float) -> list:
    """Production stage: :class:`automix.kernels.compress.Compress`, pedalboard's compressor and makeup in one
    pass with the same bits where numba's ``powf`` is the C library's (else :func:`pedalboard_graph`)."""
    from automix.dsp import LIBM_EXACT

    if LIBM_EXACT:
        from automix.kernels.compress import Compress

        return [Compress(sample_rate, threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms,
                         release_ms=release_ms, makeup_db=makeup_db)]
    return pedalboard_graph(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms,
                            makeup_db=makeup_db)


def pedalboard_graph(*, threshold_db: float, ratio: float, attack_ms: float, release_ms: float,
                     makeup_db: float) -> list:
    """pedalboard's twin, ``[pedalboard.Compressor(...), pedalboard.Gain(makeup_db)]`` (the reference the
    production stage is tested on)."""
    import pedalboard  # here, not at import: the specs (styles, settings, CLI) load without it

    return [
        pedalboard.Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms),
        pedalboard.Gain(gain_db=makeup_db),
    ]


PLUGIN = Plugin(
    "compressor",
    PARAMS,
    compressor,
    build,
    doc="Per-channel peak compressor, hard knee, plus makeup (pedalboard Compressor + Gain).",
)
