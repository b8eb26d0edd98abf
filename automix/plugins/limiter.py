"""Mastering brick-wall limiter. Twin: ``pedalboard.BrickwallLimiter`` (bit-exact in float32).

Never ``pedalboard.Limiter`` (two compressors, about ``3.75 - threshold`` dB of automatic makeup and a
0 dBFS clip: +1 to +5.6 dBTP overs measured). What ``BrickwallLimiter`` computes (pedalboard 0.9.26,
``pedalboard/plugins/BrickwallLimiter.h``), per sample, all channels linked::

    p[i]   = max over channels of |x[ch, i]|           (true_peak=False)
           = max over channels and the 4 oversampled values of sample i
             of |u|, u = JUCE 4x upsampler output        (true_peak=True)
    target = c / p[i] if p[i] > c else 1,   c = powf(10, ceiling_db / 20)
    if target < g:   g = target; hold = L   (instant attack)
    elif target < 1: hold = L               (still over the ceiling)
    elif hold > 0:   hold -= 1
    else:            g += (1 - a) * (1 - g) (one-pole release towards 1)
    y[i]   = clip(x[i - L] * g, -c, c)

with ``a = expf(-1 / R)``, ``R = max(1, int(fs * release_ms / 1000))`` (the
release time is a one-pole time constant in whole samples) and the lookahead
``L = max(1, int(fs * lookahead_ms / 1000))`` samples, plus 60 samples with
``true_peak`` (the JUCE oversampler's reported latency 59.5, rounded up).
``L`` is both the delay of the audio and the hold time, so the gain drops as a
step ``L`` samples before a peak and stays down until ``L`` samples after it.
The true-peak sidechain is ``juce::dsp::Oversampling`` (2 stages of half-band
equiripple FIRs, max quality: 119 and 51 taps); only its upsampling path is
used. The output is never above ``c`` in sample peak. In true-peak mode a
4x meter (scipy ``resample_poly``) reads within +0.02 dB of ``c`` for up to
about 3 dB of limiting; deeper limiting of bright transients with short
lookahead or release overshoots more (measured +0.05 dB at 4-6 dB and up to
+0.25 dB at 10 dB of gain reduction): the gain is a step, which widens the
spectrum after the detector has looked. Verify, and back the ceiling off.

Latency: ``latency_samples(sample_rate, lookahead_ms, true_peak)`` = ``L``.
``process(x, sr, reset=True)`` compensates it (the torch twin computes exactly
that output). Streaming with ``reset=False``, pedalboard returns ``L`` fewer
frames from the first call(s) and compensates by itself: concatenating every
returned block, then feeding ``L`` frames of silence (``reset=False``) and
appending what that returns, equals the whole-buffer ``reset=True`` output
bit for bit; nothing has to be trimmed. Caution: the plugin re-prepares (and
so RESETS its state and drops another ``L`` frames) whenever a call's
``min(buffer_size, frames)`` exceeds every earlier call's, or the channel
count or sample rate changes; keep the block size non-increasing after the
first call (e.g. a constant ``buffer_size`` and full blocks until the end).
A bare plugin also guesses the layout of every 2-D block from its shorter
axis, so a ``(2, 1)`` block is read as one channel of two frames (and resets
it); inside a ``pedalboard.Pedalboard`` that has seen the channel count the
layout is read right, except on the very first call.

Differences from pedalboard: none in float32 on glibc (bit-exact; the twin
calls libm's ``powf``/``expf`` through ctypes as pedalboard does; without a
loadable libm it rounds float64 results, about -145 dB when glibc misrounds).
The float64 path (for gradient checks) keeps the ceiling unrounded.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from automix.dsp import as_batch_param, expf, powf
from automix.plugins.spec import NumpyNode, ParamSpec, Plugin, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(
    ParamSpec("ceiling_db", -12.0, 0.0, -1.0, "linear",
              "output peak ceiling in dBFS (sample peak; 4x true peak with true_peak)"),
    ParamSpec("release_ms", 1.0, 1000.0, 100.0, "log", "one-pole release time constant in ms"),
    ParamSpec("lookahead_ms", 0.5, 20.0, 5.0, "log", "lookahead (= hold time) in ms; adds latency",
              structural=True),
    ParamSpec("true_peak", 0.0, 1.0, 1.0, "bool", "detect peaks on a 4x oversampled sidechain"),
)


def latency_samples(sample_rate: float, lookahead_ms: float, true_peak) -> int:
    """Latency of ``pedalboard.BrickwallLimiter`` in samples (also its hold time).

    ``max(1, int(sample_rate * float32(lookahead_ms) / 1000))`` plus 60 with
    ``true_peak`` (e.g. 44.1 kHz, 5 ms: 220 or 280).
    """
    base = max(1, int(float(sample_rate) * float(np.float32(lookahead_ms)) / 1000.0))
    return base + (_tp_latency() if bool(true_peak) else 0)


def _tp_latency() -> int:
    from automix.kernels import limiter as K  # numba: compiled kernels load on first use
    return K.oversampler_design()[2]


def _release_samples(sample_rate: float, release_ms: float) -> int:
    return max(1, int(float(sample_rate) * float(np.float32(release_ms)) / 1000.0))


def _ceiling_f32(db: np.ndarray) -> np.ndarray:
    """pedalboard's ``powf(10.0f, ceiling_db / 20.0f)`` (float32 division, the platform libm's powf).

    glibc's ``powf``/``expf`` are not always correctly rounded (``powf(10, dB/20)`` is 1 ulp off
    for about 0.06% of ceilings, ``expf(-1/R)`` for R = 2598), and one ulp in the ceiling moves
    every gain by one ulp; :mod:`automix.dsp` calls the same functions pedalboard does.
    """
    q = np.asarray(db, dtype=np.float32) / np.float32(20.0)
    return np.array([powf(10.0, v) for v in q.ravel()], dtype=np.float32).reshape(q.shape)


def _release_coef_f32(samples: np.ndarray) -> np.ndarray:
    """pedalboard's ``expf(-1.0f / R)`` with ``R`` whole samples."""
    q = np.float32(-1.0) / np.asarray(samples, dtype=np.float32)
    return np.array([expf(v) for v in q.ravel()], dtype=np.float32).reshape(q.shape)


@functools.cache
def _limiter_gain_function():
    """The autograd Function, defined on first use: importing the plugin must not import torch."""
    from automix.kernels import limiter as K  # numba: compiled kernels load on first use
    import torch

    class _LimiterGain(torch.autograd.Function):
        """``(x, c, a) -> g``: the limiter's gain envelope aligned with ``x``.

        ``g[b, n]`` is the envelope value pedalboard multiplies ``x[b, :, n]`` by
        (its envelope ``L`` samples later). ``hold`` (= L) and ``true_peak`` are
        structural. Backward: see :mod:`automix.kernels.limiter`.
        """

        @staticmethod
        def forward(ctx, x, ceiling, coef, hold, true_peak):
            xs = x.detach().cpu().numpy()
            nb, nc, n = xs.shape
            dt = xs.dtype
            xp = np.zeros((nb, nc, n + hold), dtype=dt)
            xp[:, :, :n] = xs
            peak = np.empty((nb, n + hold), dtype=dt)
            code = np.empty((nb, n + hold), dtype=np.int32)
            if true_peak:
                t1, t2, _ = K.oversampler_design()
                K.true_peaks(xp, t1.astype(dt), t2.astype(dt), peak, code)
            else:
                K.sample_peaks(xp, peak, code)
            c = ceiling.detach().cpu().numpy().astype(dt)
            a = coef.detach().cpu().numpy().astype(dt)
            gain = np.empty_like(peak)
            source = np.empty(peak.shape, dtype=np.int64)
            steps = np.empty(peak.shape, dtype=np.int64)
            K.gain_envelope(peak, c, a, hold, gain, source, steps)
            ctx.hold, ctx.true_peak, ctx.shape = hold, true_peak, (nb, nc, n)
            if any(ctx.needs_input_grad[:3]):
                ctx.state = (peak, code, c.astype(np.float64), a.astype(np.float64), source, steps)
            return torch.from_numpy(np.ascontiguousarray(gain[:, hold:])).to(x.device)

        @staticmethod
        def backward(ctx, grad_gain):
            peak, code, c, a, source, steps = ctx.state
            nb, nc, n = ctx.shape
            hold = ctx.hold
            gg = grad_gain.detach().cpu().numpy().astype(np.float64)
            grad_peak = np.zeros((nb, n + hold))
            grad_c = np.zeros(nb)
            grad_a = np.zeros(nb)
            K.gain_envelope_backward(np.ascontiguousarray(gg), hold, peak, c, a, source, steps,
                                     grad_peak, grad_c, grad_a)
            grad_x = None
            if ctx.needs_input_grad[0]:
                gx = np.zeros((nb, nc, n + hold))
                if ctx.true_peak:
                    t1, t2, _ = K.oversampler_design()
                    K.peaks_backward(grad_peak, code, 4, K.upsampler_response(t1, t2), gx)
                else:
                    K.peaks_backward(grad_peak, code, 1, np.zeros(1), gx)
                grad_x = torch.from_numpy(gx[:, :, :n]).to(device=grad_gain.device, dtype=grad_gain.dtype)
            dev = grad_gain.device
            return (grad_x,
                    torch.from_numpy(grad_c).to(dev) if ctx.needs_input_grad[1] else None,
                    torch.from_numpy(grad_a).to(dev) if ctx.needs_input_grad[2] else None,
                    None, None)

    return _LimiterGain


def __getattr__(name: str):
    # PEP 562: ``_LimiterGain`` stays importable from this module, built on first use
    if name == "_LimiterGain":
        return _limiter_gain_function()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def limiter(x: torch.Tensor, sample_rate: int, *, ceiling_db, release_ms, lookahead_ms, true_peak) -> torch.Tensor:
    """Stereo-linked lookahead brick-wall limiter (twin of ``pedalboard.BrickwallLimiter``).

    Returns what ``BrickwallLimiter(...).process(x, sample_rate, reset=True)``
    returns: latency-compensated, same length, bit-exact for float32 input.

    Args:
        x: audio, float32 (pedalboard-exact) or float64 (for gradient checks;
            same algorithm in double precision, ceiling not rounded to float32).
        sample_rate: Hz.
        ceiling_db: output ceiling in dBFS, -12..0 (dBTP on a 4x meter with
            ``true_peak``). Differentiable.
        release_ms: one-pole release time constant in ms, 1..1000; rounded
            down to whole samples as pedalboard does. Differentiable through
            a straight-through surrogate: the gradient is that of
            ``a = exp(-1000 / (fs * release_ms))`` without the rounding.
        lookahead_ms: lookahead and hold in ms, 0.5..20 (pedalboard accepts
            (0, 100]). Structural: no gradient.
        true_peak: 0/1, detect on the 4x oversampled sidechain. Structural.

    Every parameter is a number or a tensor of shape ``(batch,)``. All
    channels are linked (one gain per batch item); mono works and equals
    dual mono.

    Differentiable w.r.t. ``x`` (through the applied gain and through the
    detected peak that set it: ``g = 1 - (1 - c / p[s]) a**r`` after ``r``
    release steps from the attack at sample ``s``), ``ceiling_db`` and
    ``release_ms``. Which sample sets the gain, and the hold timing, are
    piecewise constant and carry no gradient; so is the output clip's bound
    except through ``c``.

    Shape: x ``(batch, channels, samples)`` -> same.
    """
    import torch

    if x.ndim != 3:
        raise ValueError(f"limiter expects (batch, channels, samples), got shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"limiter expects float32 or float64 audio, got {x.dtype}")
    nb, _, n = x.shape
    db = as_batch_param(ceiling_db, nb, dtype=torch.float64, device=x.device).to(torch.float64)
    rel = as_batch_param(release_ms, nb, dtype=torch.float64, device=x.device).to(torch.float64)
    look = as_batch_param(lookahead_ms, nb, dtype=torch.float64).detach().cpu().numpy()
    tp = as_batch_param(true_peak, nb, dtype=torch.float64).detach().cpu().numpy() > 0.5
    if n == 0 or nb == 0:
        return x * 1.0

    c_cont = torch.pow(10.0, db / 20.0)
    rel_samples = np.array([_release_samples(sample_rate, r) for r in rel.detach().cpu().numpy()])
    a_cont = torch.exp(-1000.0 / (float(sample_rate) * rel))
    if x.dtype == torch.float32:
        c_exact = torch.from_numpy(_ceiling_f32(db.detach().cpu().numpy()).astype(np.float64)).to(x.device)
        a_exact = torch.from_numpy(_release_coef_f32(rel_samples).astype(np.float64)).to(x.device)
        ceiling = c_cont + (c_exact - c_cont).detach()
    else:
        a_exact = torch.from_numpy(np.exp(-1.0 / rel_samples.astype(np.float64))).to(x.device)
        ceiling = c_cont
    coef = a_cont + (a_exact - a_cont).detach()

    holds = [latency_samples(sample_rate, float(la), bool(t)) for la, t in zip(look, tp)]
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, key in enumerate(zip(holds, tp.tolist())):
        groups.setdefault(key, []).append(i)
    if len(groups) == 1:
        (hold, peak_mode), = groups
        gain = _limiter_gain_function().apply(x, ceiling, coef, hold, peak_mode)
    else:
        parts, order = [], []
        for (hold, peak_mode), idx in groups.items():
            ix = torch.tensor(idx, device=x.device)
            parts.append(_limiter_gain_function().apply(x.index_select(0, ix), ceiling[ix], coef[ix], hold, peak_mode))
            order += idx
        gain = torch.cat(parts, 0)[torch.argsort(torch.tensor(order, device=x.device))]

    c = ceiling.to(x.dtype)[:, None, None]
    return torch.minimum(torch.maximum(x * gain[:, None, :], -c), c)


def pedalboard_limiter(sample_rate: int, *, ceiling_db: float, release_ms: float, lookahead_ms: float,
                       true_peak) -> list:
    """One ``pedalboard.BrickwallLimiter`` (latency: :func:`latency_samples`): the reference the production
    stage reproduces, and what runs where libm's float32 functions are not pedalboard's."""
    import pedalboard  # here, not at import: the specs (styles, settings, CLI) load without it

    return [
        pedalboard.BrickwallLimiter(
            ceiling_db=float(ceiling_db),
            release_ms=float(release_ms),
            lookahead_ms=float(lookahead_ms),
            true_peak=bool(true_peak),
        )
    ]


def build(sample_rate: int, *, ceiling_db: float, release_ms: float, lookahead_ms: float, true_peak) -> list:
    """Production twin: :class:`StreamingLimiter`, pedalboard's limiter bit for bit; pedalboard's own
    (:func:`pedalboard_limiter`) where :data:`automix.dsp.LIBM_EXACT` is false (the ceiling and release
    coefficient could then differ in their last bit)."""
    from automix.dsp import LIBM_EXACT

    params = dict(ceiling_db=ceiling_db, release_ms=release_ms, lookahead_ms=lookahead_ms, true_peak=true_peak)
    if not LIBM_EXACT:
        return pedalboard_limiter(sample_rate, **params)
    return [StreamingLimiter(sample_rate, **params)]


class StreamingLimiter(NumpyNode):
    """The production limiter: ``pedalboard.BrickwallLimiter`` streamed with ``reset=False``, bit for bit.

    The same float32 arithmetic as pedalboard's (:mod:`automix.kernels.limiter`: the JUCE upsampler's taps
    and accumulation order, the gain computer, the delayed and clipped output), state carried from block to
    block, and the same latency: the first blocks come out :func:`latency_samples` frames short and the
    engine's flush (silence) pushes the rest out. About five times faster than pedalboard's, whose true-peak
    sidechain runs JUCE's scalar FIR; here each FIR tap runs over the whole block at once. One instance per
    stream.
    """

    def __init__(self, sample_rate: int, *, ceiling_db: float, release_ms: float, lookahead_ms: float, true_peak):
        super().__init__("limiter", self.process)
        from automix.kernels import limiter as K

        self.true_peak = bool(true_peak)
        self.lag = latency_samples(sample_rate, lookahead_ms, self.true_peak)
        self.ceiling = _ceiling_f32(np.array([ceiling_db], dtype=np.float64))[0]
        a = _release_coef_f32(np.array([_release_samples(sample_rate, release_ms)]))[0]
        self.one_minus_a = np.float32(1.0) - a
        taps1, taps2, _ = K.oversampler_design()
        self.taps1, self.taps2 = taps1.astype(np.float32), taps2.astype(np.float32)
        self.gain = np.ones(1, np.float32)
        self.hold = np.zeros(1, np.int64)
        self.history1 = self.history2 = self.delay = None
        self.skip = self.lag  # the outputs before the stream's first sample are not emitted

    def process(self, block: np.ndarray) -> np.ndarray:
        from automix.kernels.limiter import stream_block

        x = np.ascontiguousarray(block, dtype=np.float32)
        if self.delay is None:
            c = x.shape[0]
            self.history1 = np.zeros((c, self.taps1.size // 2), np.float32)
            self.history2 = np.zeros((c, self.taps2.size // 2), np.float32)
            self.delay = np.zeros((c, self.lag), np.float32)
        y = np.empty_like(x)
        stream_block(x, self.taps1, self.taps2, self.true_peak, self.ceiling, self.one_minus_a, self.lag,
                     self.history1, self.history2, self.delay, self.gain, self.hold, y)
        drop = min(self.skip, y.shape[1])
        self.skip -= drop
        return y[:, drop:] if drop else y

    def __repr__(self) -> str:
        return f"StreamingLimiter(ceiling={float(self.ceiling):.4g}, lag={self.lag}, true_peak={self.true_peak})"


PLUGIN = Plugin(
    "limiter",
    PARAMS,
    limiter,
    build,
    doc="Lookahead brick-wall limiter, stereo-linked, optional 4x true-peak sidechain (pedalboard BrickwallLimiter).",
    stereo_only=True,
    extra={"latency_samples": latency_samples},
)
