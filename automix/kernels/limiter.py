"""Numba kernels for the brick-wall limiter (twin of ``pedalboard.BrickwallLimiter``).

pedalboard 0.9.26's ``BrickwallLimiter`` (``pedalboard/plugins/BrickwallLimiter.h``)
does, per sample ``i`` of a stereo-linked stream, in float32:

1. sidechain peak ``p[i] = max_ch |x[ch, i]|``; with ``true_peak`` the max runs
   over the four 4x-oversampled values of sample ``i`` produced by JUCE's
   ``dsp::Oversampling`` (two half-band equiripple FIR stages, max quality),
   upsampling path only;
2. ``target = c / max(p, 1e-30)`` if ``p > c`` else 1 (``c = powf(10, dB/20)``);
3. gain envelope with lookahead ``L`` (samples) as hold time::

       if target < g:   g = target; hold = L          # instant attack
       elif target < 1: hold = L                       # still over: refresh hold
       elif hold > 0:   hold -= 1
       else:            g += (1 - a) * (1 - g)         # one-pole release

   with ``a = expf(-1 / max(1, int(fs * release_ms / 1000)))``;
4. output ``clip(x[i - L] * g, -c, c)`` (the input delayed by ``L``).

The forward kernels below repeat that arithmetic operation by operation in
the dtype of the input (float32 reproduces pedalboard bit for bit; float64
exists for gradient checks). The backward kernels differentiate the
piecewise-smooth map the forward takes: the envelope value at ``m`` equals
``1 - (1 - c / p[s]) * a**r`` where ``s`` is the sample whose target last set
the gain and ``r`` the number of release steps since; the discrete choices
(which ``s``, hold timing) are treated as constants.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

# ---------------------------------------------------------------------------
# JUCE FilterDesign::designFIRLowpassHalfBandEquirippleMethod, replayed in
# float64 with the same float32 roundings, so the taps equal JUCE's float taps.


def _partial_impulse_response_hn(n: int, kp: float) -> np.ndarray:
    alpha = np.zeros(2 * n + 1)
    alpha[2 * n] = 1.0 / math.pow(1.0 - kp * kp, n)
    if n > 0:
        alpha[2 * n - 2] = -(2 * n * kp * kp + 1) * alpha[2 * n]
    if n > 1:
        alpha[2 * n - 4] = (
            -(4 * n + 1 + (n - 1) * (2 * n - 1) * kp * kp) / (2.0 * n) * alpha[2 * n - 2]
            - (2 * n + 1) * ((n + 1) * kp * kp + 1) / (2.0 * n) * alpha[2 * n]
        )
    for k in range(n, 2, -1):
        c1 = (3 * (n * (n + 2) - k * (k - 2)) + 2 * k - 3 + 2 * (k - 2) * (2 * k - 3) * kp * kp) * alpha[2 * k - 4]
        c2 = (3 * (n * (n + 2) - (k - 1) * (k + 1)) + 2 * (2 * k - 1) + 2 * k * (2 * k - 1) * kp * kp) * alpha[2 * k - 2]
        c3 = (n * (n + 2) - (k - 1) * (k + 1)) * alpha[2 * k]
        c4 = n * (n + 2) - (k - 3) * (k - 1)
        alpha[2 * k - 6] = -(c1 + c2 + c3) / c4
    ai = np.zeros(2 * n + 2)
    for k in range(n + 1):
        ai[2 * k + 1] = alpha[2 * k] / (2.0 * k + 1.0)
    hn = np.zeros(4 * n + 3)
    for k in range(n + 1):
        hn[2 * n + 1 + (2 * k + 1)] = 0.5 * ai[2 * k + 1]
        hn[2 * n + 1 - (2 * k + 1)] = 0.5 * ai[2 * k + 1]
    return hn


def _fir_magnitude(coefs: np.ndarray, frequency: float) -> float:
    # JUCE FIR::Coefficients::getMagnitudeForFrequency (sample rate 1), same order of operations.
    jw = complex(math.cos(-2.0 * math.pi * frequency), math.sin(-2.0 * math.pi * frequency))
    num, factor = 0j, 1 + 0j
    for c in coefs:
        num += float(c) * factor
        factor *= jw
    return abs(num)


def design_halfband_equiripple(transition_width: float, stopband_db: float) -> np.ndarray:
    """JUCE's half-band equiripple lowpass FIR (float32 taps, odd length ``4n+3``).

    Args:
        transition_width: normalised transition width (float32 in JUCE).
        stopband_db: stop-band amplitude in dB (negative).

    Returns:
        float32 taps; the centre tap is 0.5 and every other tap is zero.
    """
    tw = float(np.float32(transition_width))
    amp = float(np.float32(stopband_db))
    wpt = (0.5 - tw) * math.pi
    n = int(round(math.ceil((amp - 18.18840664 * wpt + 33.64775300) / (18.54155181 * wpt - 29.13196871))))
    kp = (n * wpt - 1.57111377 * n + 0.00665857) / (-1.01927560 * n + 0.37221484)
    a = (0.01525753 * n + 0.03682344 + 9.24760314 / n) * kp + 1.01701407 + 0.73512298 / n
    b = (0.00233667 * n - 1.35418408 + 5.75145813 / n) * kp + 1.02999650 - 0.72759508 / n
    hn = _partial_impulse_response_hn(n, kp)
    hnm = np.concatenate([[0.0, 0.0], _partial_impulse_response_hn(n - 1, kp), [0.0, 0.0]])
    first = (a * hn + b * hnm).astype(np.float32)
    if n % 2 == 0:
        nn = 2.0 * _fir_magnitude(first, 0.5)
    else:
        w01 = math.sqrt(kp * kp + (1 - kp * kp) * math.pow(math.cos(math.pi / (2.0 * n + 1.0)), 2.0))
        om01 = math.acos(-w01)
        nn = -2.0 * _fir_magnitude(first, om01 / (2.0 * math.pi))
    taps = ((a * hn + b * hnm) / nn).astype(np.float32)
    taps[2 * n + 1] = np.float32(0.5)
    return taps


@lru_cache(maxsize=None)
def oversampler_design() -> tuple[np.ndarray, np.ndarray, int]:
    """Taps of the 4x upsampler pedalboard's true-peak sidechain uses, and its latency.

    ``juce::dsp::Oversampling(channels, 2, filterHalfBandFIREquiripple, isMaxQuality=true)``:
    stage 1 up (0.05, -90 dB) / down (0.06, -75 dB), stage 2 up (0.10, -80 dB) /
    down (0.12, -65 dB). The reported latency is ``sum(stage (order_up +
    order_down) / 2 / 2**stage)`` in float32; the limiter extends its delay
    line by its ceiling.

    Returns:
        ``(taps_stage1, taps_stage2, extra_latency_samples)``; the taps are float32.
    """
    f32 = np.float32
    taps_up, latency = [], f32(0.0)
    order = 1
    for stage in range(2):
        scale = f32(0.5) if stage == 0 else f32(1.0)
        tw_up, tw_down = f32(0.10) * scale, f32(0.12) * scale
        db_up = f32(-90.0) + f32(10.0) * f32(stage)
        db_down = f32(-75.0) + f32(10.0) * f32(stage)
        up = design_halfband_equiripple(tw_up, db_up)
        down = design_halfband_equiripple(tw_down, db_down)
        order *= 2
        latency = f32(latency + f32(len(up) - 1 + len(down) - 1) * f32(0.5) / f32(order))
        taps_up.append(up)
    return taps_up[0], taps_up[1], int(math.ceil(float(latency)))


# ---------------------------------------------------------------------------
# Sidechain detectors. ``x`` is (batch, channels, samples), C-contiguous.
# ``code`` records which value won the max, for the backward pass:
# ``code = 2 * (channel * phases + phase) + (1 if the value was negative)``,
# -1 where the peak is 0 (no gradient).


@numba.njit(cache=True, nogil=True)
def sample_peaks(x, peak, code):
    """Stereo-linked sample peak ``max_ch |x|`` (pedalboard's non-true-peak sidechain)."""
    zero = x.dtype.type(0.0)
    for b in range(x.shape[0]):
        for i in range(x.shape[2]):
            pk = zero
            cd = -1
            for ch in range(x.shape[1]):
                v = x[b, ch, i]
                s = abs(v)
                if s > pk:
                    pk = s
                    cd = 2 * ch + (1 if v < zero else 0)
            peak[b, i] = pk
            code[b, i] = cd


@numba.njit(cache=True, nogil=True)
def _upsample2(v, taps, out):
    """One JUCE ``Oversampling2TimesEquirippleFIR::processSamplesUp`` stage from zero state.

    ``v`` holds ``half = 2n+1`` leading zeros (the filter's initial state) and
    then the input; ``out`` receives ``2 * (len(v) - half)`` samples:
    ``out[2i] = sum_{k=0,2..2n} taps[k] * (2 v[i-2n-1+k/2] + 2 v[i-k/2])``
    accumulated in ``k`` order in the dtype of ``v`` (as JUCE does), and
    ``out[2i+1] = 2 v[i-n] * taps[2n+1]``.
    """
    half = taps.shape[0] // 2  # centre tap index 2n+1
    n = (half - 1) // 2
    two = v.dtype.type(2.0)
    centre = taps[half]
    ns = v.shape[0] - half
    zero = v.dtype.type(0.0)
    # Two outputs per pass: independent accumulation chains overlap in the
    # pipeline; each chain keeps JUCE's order.
    i = 0
    while i + 1 < ns:
        b0 = i + half  # position of input sample i inside v
        acc0 = zero
        acc1 = zero
        for k in range(0, half, 2):
            t = taps[k]
            acc0 += (two * v[b0 - half + k // 2] + two * v[b0 - k // 2]) * t
            acc1 += (two * v[b0 + 1 - half + k // 2] + two * v[b0 + 1 - k // 2]) * t
        out[2 * i] = acc0
        out[2 * i + 1] = (two * v[b0 - n]) * centre
        out[2 * i + 2] = acc1
        out[2 * i + 3] = (two * v[b0 + 1 - n]) * centre
        i += 2
    if i < ns:
        b0 = i + half
        acc0 = zero
        for k in range(0, half, 2):
            acc0 += (two * v[b0 - half + k // 2] + two * v[b0 - k // 2]) * taps[k]
        out[2 * i] = acc0
        out[2 * i + 1] = (two * v[b0 - n]) * centre


@numba.njit(cache=True, nogil=True)
def true_peaks(x, taps1, taps2, peak, code):
    """Stereo-linked 4x-oversampled peak per input sample (pedalboard's true-peak sidechain).

    The channel loop is outermost here, but the strict ``>`` comparisons run
    in the same (channel, phase) order as pedalboard's, so the winner is the same.
    """
    nb, nc, ns = x.shape
    zero = x.dtype.type(0.0)
    h1 = taps1.shape[0] // 2
    h2 = taps2.shape[0] // 2
    vin = np.zeros(h1 + ns, dtype=x.dtype)
    mid = np.zeros(h2 + 2 * ns, dtype=x.dtype)
    up = np.empty(4 * ns, dtype=x.dtype)
    for b in range(nb):
        for i in range(ns):
            peak[b, i] = zero
            code[b, i] = -1
        for ch in range(nc):
            for i in range(ns):
                vin[h1 + i] = x[b, ch, i]
            _upsample2(vin, taps1, mid[h2:])
            _upsample2(mid, taps2, up)
            for i in range(ns):
                pk = peak[b, i]
                cd = code[b, i]
                for k in range(4):
                    v = up[4 * i + k]
                    s = abs(v)
                    if s > pk:
                        pk = s
                        cd = 2 * (ch * 4 + k) + (1 if v < zero else 0)
                peak[b, i] = pk
                code[b, i] = cd


def upsampler_response(taps1: np.ndarray, taps2: np.ndarray) -> np.ndarray:
    """Impulse response (float64) of the two cascaded stages from the 1x to the 4x grid.

    ``u[4i + k] = sum_d H[4d + k] x[i - d]`` with ``H = up2(2 taps1) * 2 taps2``.
    """
    h1 = np.zeros(2 * len(taps1) - 1)
    h1[::2] = 2.0 * taps1.astype(np.float64)
    return np.convolve(h1, 2.0 * taps2.astype(np.float64))


@numba.njit(cache=True, nogil=True)
def peaks_backward(grad_peak, code, phases, response, grad_x):
    """Scatter ``d loss / d peak`` back to the input (float64 ``grad_x``, accumulated into).

    ``phases`` is 1 for the sample-peak detector (``response`` unused) and 4
    for the true-peak one, whose winning 4x sample ``u[4i + k]`` depends on
    ``x[i - d]`` through ``response[4d + k]``.
    """
    nb, nc, ns = grad_x.shape
    nr = response.shape[0]
    for b in range(nb):
        for i in range(ns):
            cd = code[b, i]
            gp = grad_peak[b, i]
            if cd < 0 or gp == 0.0:
                continue
            if cd & 1:
                gp = -gp
            slot = cd >> 1
            if phases == 1:
                grad_x[b, slot, i] += gp
                continue
            ch = slot // 4
            k = slot % 4
            for d in range(min(i + 1, (nr - 1 - k) // 4 + 1)):
                grad_x[b, ch, i - d] += gp * response[4 * d + k]


# ---------------------------------------------------------------------------
# Gain envelope.


#: what a :func:`_gain_step` did to the gain
_HOLD, _ATTACK, _RELEASE = 0, 1, 2


@numba.njit(cache=True, nogil=True, inline="always")
def _gain_step(p, c, tiny, one, one_minus_a, g, hold, hold_samples):  # pragma: no cover - compiled
    """One sample of the gain computer: ``(gain, hold left, _ATTACK / _RELEASE / _HOLD)`` after peak ``p``."""
    target = c / max(p, tiny) if p > c else one
    if target < g:
        return target, hold_samples, _ATTACK
    if target < one:
        return g, hold_samples, _HOLD
    if hold > 0:
        return g, hold - 1, _HOLD
    return g + one_minus_a * (one - g), hold, _RELEASE


@numba.njit(cache=True, nogil=True)
def gain_envelope(peak, ceiling, release_coef, hold_samples, gain, source, steps):
    """Instant-attack / hold / one-pole-release gain computer, per batch item.

    Args:
        peak: (batch, n) sidechain peaks (float32 or float64).
        ceiling: (batch,) linear ceiling, same dtype as ``peak``.
        release_coef: (batch,) one-pole coefficient ``a``, same dtype.
        hold_samples: hold time = total lookahead in samples (int).
        gain: (batch, n) output envelope.
        source: (batch, n) int64 output, index of the sample that last set the
            gain by an attack (-1 if none yet).
        steps: (batch, n) int64 output, release steps taken since then.
    """
    one = peak.dtype.type(1.0)
    tiny = peak.dtype.type(1e-30)
    for b in range(peak.shape[0]):
        c = ceiling[b]
        one_minus_a = one - release_coef[b]
        g = one
        hold = 0
        src = -1
        r = 0
        for i in range(peak.shape[1]):
            g, hold, move = _gain_step(peak[b, i], c, tiny, one, one_minus_a, g, hold, hold_samples)
            if move == _ATTACK:
                src = i
                r = 0
            elif move == _RELEASE:
                r += 1
            gain[b, i] = g
            source[b, i] = src
            steps[b, i] = r


@numba.njit(cache=True, nogil=True)
def gain_envelope_backward(grad_gain, offset, peak, ceiling, release_coef, source, steps,
                           grad_peak, grad_ceiling, grad_coef):
    """Backward of :func:`gain_envelope` for the envelope samples ``offset..offset+n``.

    Uses ``g[m] = 1 - (1 - c / p[s]) * a**r`` (``s = source[m]``, ``r = steps[m]``):
    ``dg/dc = a**r / p[s]``, ``dg/dp[s] = -c a**r / p[s]**2``,
    ``dg/da = -(1 - c / p[s]) r a**(r-1)``. Everything in float64;
    ``grad_peak`` (batch, total) is accumulated into.
    """
    for b in range(grad_gain.shape[0]):
        c = float(ceiling[b])
        a = float(release_coef[b])
        gc = 0.0
        ga = 0.0
        for j in range(grad_gain.shape[1]):
            gg = grad_gain[b, j]
            if gg == 0.0:
                continue
            m = j + offset
            s = source[b, m]
            if s < 0:
                continue
            p = float(peak[b, s])
            r = steps[b, m]
            ar = a ** r
            gc += gg * ar / p
            grad_peak[b, s] += -gg * c * ar / (p * p)
            if r > 0:
                ga += -gg * (1.0 - c / p) * r * a ** (r - 1)
        grad_ceiling[b] = gc
        grad_coef[b] = ga


# ---------------------------------------------------------------------------
# Streaming production kernel: the forward above, block by block, state carried.


@numba.njit(cache=True, nogil=True)
def _upsample2_stream(v, taps, out):  # pragma: no cover - compiled
    """:func:`_upsample2` with its loops turned: ``k`` outer, the output sample inner.

    Each output still accumulates its terms in JUCE's ``k`` order (the same float32 sum, bit for bit); the
    inner loop runs over independent outputs, which the compiler vectorises (about 10x faster). The taps
    read slices of ``v``, not ``v[i + offset]``: with a plain index the compiler must allow for a negative
    one (numpy's wrap-around) and does not vectorise. ``v`` holds ``half`` samples of history and then the
    block; ``out`` receives ``2 * (len(v) - half)`` samples.
    """
    half = taps.shape[0] // 2
    n = (half - 1) // 2
    two = v.dtype.type(2.0)
    centre = taps[half]
    ns = v.shape[0] - half
    acc = np.zeros(ns, dtype=v.dtype)
    for k in range(0, half, 2):
        t = taps[k]
        early = v[k // 2: k // 2 + ns]
        late = v[half - k // 2: half - k // 2 + ns]
        for i in range(ns):
            acc[i] += (two * early[i] + two * late[i]) * t
    odd = v[half - n: half - n + ns]
    for i in range(ns):
        out[2 * i] = acc[i]
        out[2 * i + 1] = (two * odd[i]) * centre


@numba.njit(cache=True, nogil=True)
def stream_block(x, taps1, taps2, true_peak, ceiling, one_minus_a, hold_samples, history1, history2, delay,
                 gain, hold_left, y):  # pragma: no cover - compiled
    """One block of the limiter's stream: ``y[:, j]`` is the output for input ``hold_samples`` samples back.

    Shapes: x, y ``(channels, n)`` float32; ``history1`` ``(channels, len(taps1) // 2)`` and ``history2``
    ``(channels, len(taps2) // 2)`` the upsampler stages' last inputs; ``delay`` ``(channels, hold_samples)``
    the delay line; ``gain`` ``(1,)`` float32 and ``hold_left`` ``(1,)`` int64 the gain computer's state. All
    updated in place.
    """
    nc, ns = x.shape
    one = x.dtype.type(1.0)
    tiny = x.dtype.type(1e-30)
    peak = np.zeros(ns, dtype=x.dtype)
    if true_peak:
        h1 = history1.shape[1]
        h2 = history2.shape[1]
        vin = np.empty(h1 + ns, dtype=x.dtype)
        mid = np.empty(h2 + 2 * ns, dtype=x.dtype)
        up = np.empty(4 * ns, dtype=x.dtype)
        for ch in range(nc):
            vin[:h1] = history1[ch]
            vin[h1:] = x[ch]
            mid[:h2] = history2[ch]
            _upsample2_stream(vin, taps1, mid[h2:])
            _upsample2_stream(mid, taps2, up)
            history1[ch] = vin[ns:]
            history2[ch] = mid[2 * ns:]
            for i in range(ns):
                pk = peak[i]
                for k in range(4):
                    s = abs(up[4 * i + k])
                    if s > pk:
                        pk = s
                peak[i] = pk
    else:
        for ch in range(nc):
            for i in range(ns):
                s = abs(x[ch, i])
                if s > peak[i]:
                    peak[i] = s
    g = gain[0]
    hold = hold_left[0]
    c = ceiling
    for i in range(ns):
        g, hold, _ = _gain_step(peak[i], c, tiny, one, one_minus_a, g, hold, hold_samples)
        peak[i] = g
    gain[0] = g
    hold_left[0] = hold
    lag = hold_samples
    head = min(lag, ns)
    for ch in range(nc):
        old = delay[ch, :head]
        for i in range(head):
            y[ch, i] = min(max(old[i] * peak[i], -c), c)
        new = x[ch, :ns - head]
        gains = peak[head:]
        out = y[ch, head:]
        for i in range(ns - head):
            out[i] = min(max(new[i] * gains[i], -c), c)
        if ns >= lag:
            delay[ch] = x[ch, ns - lag:]
        else:
            delay[ch, :lag - ns] = delay[ch, ns:].copy()
            delay[ch, lag - ns:] = x[ch]
