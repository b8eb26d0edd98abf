"""BS.1770-4 / EBU R128 loudness: K-weighting, gating blocks and the streaming accumulator.

Definitions (all values in LUFS, ranges in LU):

- **K-weighting** is pyloudnorm's, designed per sample rate: with the default
  ``filter_class="K-weighting"`` an RBJ high shelf (+4 dB, 1500 Hz, Q 1/sqrt 2)
  then an RBJ high-pass (38 Hz, Q 0.5), both evaluated at the actual rate, so
  44.1 kHz is not a 48 kHz filter at the wrong rate. This design reads about
  0.04 dB below the ITU 48 kHz coefficients above 500 Hz (the ITU high-pass has
  ``b = [1, -2, 1]``, a pass-band gain of +0.04 dB); ``filter_class="DeMan"``
  selects pyloudnorm's fit of the analogue prototype, which equals the ITU
  coefficients at 48 kHz to 1e-4 dB and is re-derived at every other rate.
- **Gating blocks** are pyloudnorm's, sample for sample: block ``j`` covers samples
  ``[int(0.4 * (j * 0.25) * fs), int(0.4 * (j * 0.25 + 1) * fs))`` (400 ms, 100 ms
  hop), there are ``round((T - 0.4) / 0.1) + 1`` of them for a signal of ``T``
  seconds (the last may run past the end and is then zero-padded), and a block's
  mean square is its sum of squares divided by the nominal ``0.4 * fs``. A signal
  shorter than that (which pyloudnorm refuses) gets one zero-padded block.
- **Integrated loudness** (BS.1770-4): blocks at or above -70 LUFS (absolute
  gate), their mean energy minus 10 LU is the relative gate, and the result is
  the mean energy of the blocks above both gates, ``-0.691 + 10 log10(.)``.
  ``-inf`` when no block passes (silence).
- **Momentary loudness** is the loudness of each gating block (400 ms windows
  every 100 ms, zero-padded past the end as above); **momentary max** is the
  largest of them.
- **Short-term loudness** is the loudness of 3 s windows ``[l_j, l_{j+30})`` on
  the same 100 ms grid (``l_j`` the block starts above), ``round((T - 3) / 0.1) + 1``
  of them (at least one; a file shorter than 3 s gets one zero-padded window),
  each divided by the nominal ``3 * fs``; **short-term max** is the largest.
  Windows never start before the first sample: a window that reached back into
  the silence before the file can only read lower than the first full window.
- **Loudness range** (EBU Tech 3342): the short-term values above, absolute gate
  -70 LUFS, relative gate 20 LU below the mean energy of the absolutely gated
  values (both gates inclusive), then the 95th minus the 10th percentile (linear
  interpolation, ``numpy.percentile``). ``0.0`` when no window passes the gates.

Channels: ``(channels, samples)`` with one or two channels, both weighted 1. A
mono signal counts twice (dual mono), because the engine plays a mono file on
both speakers: it reads 3.01 dB louder than strict BS.1770 applied to one channel.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from automix import constants

#: BS.1770 gating constants (seconds, LUFS, LU)
BLOCK_S = 0.4
OVERLAP = 0.75
SHORT_TERM_S = 3.0
ABSOLUTE_GATE_LUFS = constants.ABSOLUTE_GATE_LUFS
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)
#: short-term windows span this many 100 ms hops
SHORT_TERM_HOPS = 30
FILTER_CLASSES = ("K-weighting", "DeMan")

_STEP = 1.0 - OVERLAP  # 0.25 exactly, as pyloudnorm computes it


#: pyloudnorm's pre-filter stages per filter class, in application order: (type, gain dB, Q, centre Hz)
_PRE_FILTERS = {
    "K-weighting": (("high_shelf", 4.0, 1 / np.sqrt(2), 1500.0), ("high_pass", 0.0, 0.5, 38.0)),
    "DeMan": (("high_shelf_DeMan", 3.99984385397, 0.7071752369554193, 1681.9744509555319),
              ("high_pass_DeMan", 0.0, 0.5003270373253953, 38.13547087613982)),
}


def _pre_filter(kind: str, gain_db: float, q: float, fc: float, rate: float) -> np.ndarray:
    """One of pyloudnorm's stages ``[b0, b1, b2, a0, a1, a2]`` normalised by ``a0``, in its arithmetic: the RBJ
    cookbook's shelf and high-pass, and Brecht De Man's ITU-matched pair (the tests hold it equal to
    pyloudnorm's own coefficients, bit for bit)."""
    if kind.endswith("_DeMan"):
        k = np.tan(np.pi * fc / rate)
        den = 1.0 + k / q + k * k
        a = (1.0, 2.0 * (k * k - 1.0) / den, (1.0 - k / q + k * k) / den)
        if kind == "high_pass_DeMan":
            b = (1.0, -2.0, 1.0)
        else:
            vh = np.power(10.0, gain_db / 20.0)
            vb = np.power(vh, 0.499666774155)
            b = ((vh + vb * k / q + k * k) / den, 2.0 * (k * k - vh) / den, (vh - vb * k / q + k * k) / den)
    else:
        big_a = 10 ** (gain_db / 40.0)
        w0 = 2.0 * np.pi * (fc / rate)
        alpha = np.sin(w0) / (2.0 * q)
        cos, edge = np.cos(w0), 2 * np.sqrt(big_a) * alpha
        if kind == "high_shelf":
            b = (big_a * ((big_a + 1) + (big_a - 1) * cos + edge), -2 * big_a * ((big_a - 1) + (big_a + 1) * cos),
                 big_a * ((big_a + 1) + (big_a - 1) * cos - edge))
            a = ((big_a + 1) - (big_a - 1) * cos + edge, 2 * ((big_a - 1) - (big_a + 1) * cos),
                 (big_a + 1) - (big_a - 1) * cos - edge)
        else:  # high_pass
            b = ((1 + cos) / 2, -(1 + cos), (1 + cos) / 2)
            a = (1 + alpha, -2 * cos, 1 - alpha)
    return np.concatenate([np.array(b) / a[0], np.array(a) / a[0]])


@lru_cache(maxsize=32)
def k_weighting_sos(sample_rate: float, filter_class: str = "K-weighting") -> np.ndarray:
    """Second-order sections ``(2, 6)`` of the K-weighting filter at ``sample_rate``.

    pyloudnorm's own meter's coefficients (shelf first, then high-pass), computed here as it computes them,
    so that our numbers are pyloudnorm's without importing it (it imports ``scipy.signal``, about 0.4 s of
    every mix's start-up). ``filter_class`` is ``"K-weighting"`` (pyloudnorm's default) or ``"DeMan"``
    (ITU-exact at 48 kHz); see the module docstring.
    """
    if filter_class not in FILTER_CLASSES:
        raise ValueError(f"filter_class must be one of {FILTER_CLASSES}, got {filter_class!r}")
    sos = np.stack([_pre_filter(kind, g, q, fc, sample_rate) for kind, g, q, fc in _PRE_FILTERS[filter_class]])
    sos.setflags(write=False)
    return sos


def block_starts(j: np.ndarray, sample_rate: float) -> np.ndarray:
    """pyloudnorm's first sample of 400 ms block ``j`` (float arithmetic in its order)."""
    return (BLOCK_S * (np.asarray(j, dtype=np.int64) * _STEP) * sample_rate).astype(np.int64)


def block_ends(j: np.ndarray, sample_rate: float) -> np.ndarray:
    """pyloudnorm's end (exclusive) of 400 ms block ``j``."""
    return (BLOCK_S * (np.asarray(j, dtype=np.int64) * _STEP + 1) * sample_rate).astype(np.int64)


def _count(n_samples: int, sample_rate: float, window_s: float) -> int:
    """Number of windows of ``window_s`` on the 100 ms grid, pyloudnorm's rounding, at least 1."""
    if n_samples <= 0:
        return 0
    t = n_samples / sample_rate
    return max(int(np.round((t - window_s) / (BLOCK_S * _STEP))) + 1, 1)


def momentary_bounds(n_samples: int, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the 400 ms gating blocks of an ``n_samples`` signal, ends clipped to it."""
    j = np.arange(_count(n_samples, sample_rate, BLOCK_S))
    return block_starts(j, sample_rate), np.minimum(block_ends(j, sample_rate), n_samples)


def short_term_bounds(n_samples: int, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the 3 s short-term windows, ends clipped to the signal."""
    j = np.arange(_count(n_samples, sample_rate, SHORT_TERM_S))
    return block_starts(j, sample_rate), np.minimum(block_starts(j + SHORT_TERM_HOPS, sample_rate), n_samples)


def energy_to_lufs(energy):
    """Mean square (channel-summed, K-weighted) to LUFS; 0 gives -inf."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(energy)


def gated_integrated(block_energy: np.ndarray, absolute_gate_lufs: float = ABSOLUTE_GATE_LUFS) -> float:
    """BS.1770-4 two-stage gating over block mean squares, exactly as pyloudnorm 0.2 does it.

    ``absolute_gate_lufs`` other than -70 is for level-invariant stem analysis only (see
    :meth:`automix.meters.StreamingMeter.result`).
    """
    if block_energy.size == 0:
        return -math.inf
    lufs = energy_to_lufs(block_energy)
    above_abs = lufs >= absolute_gate_lufs
    if not above_abs.any():
        return -math.inf
    relative = float(energy_to_lufs(block_energy[above_abs].mean())) + RELATIVE_GATE_LU
    keep = (lufs > relative) & (lufs > absolute_gate_lufs)
    if not keep.any():
        return -math.inf
    return float(energy_to_lufs(block_energy[keep].mean()))


def loudness_range(short_term_lufs: np.ndarray, absolute_gate_lufs: float = ABSOLUTE_GATE_LUFS) -> float:
    """EBU Tech 3342 loudness range (LU) of a series of short-term loudness values."""
    st = short_term_lufs[short_term_lufs >= absolute_gate_lufs]
    if st.size == 0:
        return 0.0
    gate = float(energy_to_lufs(np.mean(10.0 ** ((st + 0.691) / 10.0)))) + LRA_RELATIVE_GATE_LU
    st = st[st >= gate]
    if st.size == 0:
        return 0.0
    low, high = np.percentile(st, LRA_PERCENTILES)
    return float(high - low)


#: samples between flushes of the filter states, and the level under which a state is taken as zero
_FLUSH_EVERY = 2048
_FLUSH_BELOW = 1e-200


@numba.njit(nogil=True, cache=True, inline="always")
def _flushed(z):  # pragma: no cover - compiled
    return 0.0 if abs(z) < _FLUSH_BELOW else z


@numba.njit(nogil=True, cache=True)
def _k_weighted_power(sos, x, zi, weight, out):  # pragma: no cover - compiled
    """``out[n] = weight * sum_c y[c, n]^2``, ``y`` = ``x`` through the two sections ``sos``; ``zi`` updated in
    place.

    ``scipy.signal.sosfilt``'s recursion operation for operation (transposed direct form II,
    ``a0 = 1``), so the output is bit-identical to it. The channels advance together, which overlaps
    their dependency chains, and the coefficients and states sit in local variables, so they stay in
    registers instead of being stored and loaded every sample (with both, 6-10x faster than scipy's
    channel-after-channel loop plus the numpy squares). Both K-weighting designs are two sections.
    Shapes: sos ``(2, 6)``, x ``(C, N)`` with C 1 or 2, zi ``(2, C, 2)``, out ``(N,)``; all float64.

    In digital silence the states decay towards subnormal numbers, where every operation is about 100x
    slower (a stem that is silent half the time metered 12x slower). Every :data:`_FLUSH_EVERY` samples
    states under :data:`_FLUSH_BELOW` are set to zero: they are 190 orders of magnitude under any audible
    sample, their squares underflow to zero anyway and adding them to a normal value changes nothing, so the
    output stays scipy's.
    """
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    channels, n = x.shape
    two = channels == 2
    # the states, named p<section><channel><delay>
    p000, p001, p100, p101 = zi[0, 0, 0], zi[0, 0, 1], zi[1, 0, 0], zi[1, 0, 1]
    p010, p011, p110, p111 = 0.0, 0.0, 0.0, 0.0
    if two:
        p010, p011, p110, p111 = zi[0, 1, 0], zi[0, 1, 1], zi[1, 1, 0], zi[1, 1, 1]
    for i in range(n):
        if i % _FLUSH_EVERY == 0:
            p000, p001, p100, p101 = _flushed(p000), _flushed(p001), _flushed(p100), _flushed(p101)
            p010, p011, p110, p111 = _flushed(p010), _flushed(p011), _flushed(p110), _flushed(p111)
        u = x[0, i]
        v = b00 * u + p000
        p000 = b01 * u - a01 * v + p001
        p001 = b02 * u - a02 * v
        w = b10 * v + p100
        p100 = b11 * v - a11 * w + p101
        p101 = b12 * v - a12 * w
        acc = w * w
        if two:
            u = x[1, i]
            v = b00 * u + p010
            p010 = b01 * u - a01 * v + p011
            p011 = b02 * u - a02 * v
            w = b10 * v + p110
            p110 = b11 * v - a11 * w + p111
            p111 = b12 * v - a12 * w
            out[i] = acc + w * w
        else:
            out[i] = weight * acc
    zi[0, 0, 0], zi[0, 0, 1], zi[1, 0, 0], zi[1, 0, 1] = p000, p001, p100, p101
    if two:
        zi[0, 1, 0], zi[0, 1, 1], zi[1, 1, 0], zi[1, 1, 1] = p010, p011, p110, p111


def _range_sums(seg: np.ndarray, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``out[i] = seg[first[i]:stop[i]].sum()`` without a running sum over the whole file.

    A cumulative sum over minutes of loud audio would swamp the few ulps of a
    quiet block (and can even go negative in digital silence); the spans here
    are a handful of segments, so adding them directly is cheap and exact.
    """
    out = np.zeros(first.shape, dtype=np.float64)
    if first.size == 0 or seg.size == 0:
        return out
    span = stop - first
    last = seg.size - 1
    for k in range(int(span.max(initial=0))):
        out += np.where(k < span, seg[np.minimum(first + k, last)], 0.0)
    return out


class LoudnessAccumulator:
    """Streaming K-weighted energy on pyloudnorm's block grid, bounded memory.

    Carries the K-weighting filter state across blocks and keeps, for every
    block boundary on the 100 ms grid (starts ``l_j`` and ends ``u_j`` of the
    400 ms blocks, about two per hop), the channel-summed sum of squares since
    the previous boundary. Momentary, short-term, integrated and LRA are
    assembled from those segments at the end, so any block size gives the same
    numbers as one whole-array pass (and as pyloudnorm, to float64 round-off).
    Memory: two floats and two ints per boundary (about 40 bytes per 100 ms).
    """

    _CHUNK_HOPS = 1024  # block boundaries are generated this many hops at a time

    def __init__(self, sample_rate: float, channels: int, filter_class: str = "K-weighting"):
        self.sample_rate = sample_rate
        self.channels = channels
        self._sos = k_weighting_sos(sample_rate, filter_class).copy()
        self._zi = np.zeros((self._sos.shape[0], channels, 2), dtype=np.float64)
        # a mono file counts as dual mono: both speakers play it
        self._weight = 2.0 if channels == 1 else 1.0
        self._n = 0
        self._acc = 0.0  # sum of squares since the last boundary
        self._pos: list[np.ndarray] = []
        self._seg: list[np.ndarray] = []
        self._future = np.zeros(0, dtype=np.int64)  # generated boundaries not yet reached
        self._next_j = 0
        self._known_below = 0  # every boundary < this is in _future or already used

    def _ensure_boundaries(self, upto: int) -> None:
        while self._known_below <= upto:
            j = np.arange(self._next_j, self._next_j + self._CHUNK_HOPS)
            new = np.concatenate([block_starts(j, self.sample_rate), block_ends(j, self.sample_rate)])
            self._future = np.union1d(self._future, new)
            self._next_j += self._CHUNK_HOPS
            # every later start is >= this and every later end is beyond it (ends trail starts by 400 ms)
            self._known_below = int(block_starts(np.array([self._next_j]), self.sample_rate)[0])

    def process(self, block: np.ndarray) -> None:
        """Add ``(channels, n)`` float64 samples."""
        n = block.shape[1]
        if n == 0:
            return
        z2 = np.empty(n, dtype=np.float64)
        _k_weighted_power(self._sos, np.ascontiguousarray(block, dtype=np.float64), self._zi, self._weight, z2)
        n0, n1 = self._n, self._n + n
        self._ensure_boundaries(n1)
        fut = self._future
        hi = int(np.searchsorted(fut, n1, side="right"))
        lo = int(np.searchsorted(fut, n0, side="right"))
        pts = fut[lo:hi]
        self._future = fut[hi:]
        self._n = n1
        if pts.size == 0:
            self._acc += float(z2.sum())
            return
        local = pts - n0  # in [1, n]
        starts = np.concatenate([[0], local[local < n]])
        sums = np.add.reduceat(z2, starts)
        seg = sums[: pts.size].copy()
        seg[0] += self._acc
        self._acc = float(sums[pts.size]) if sums.size > pts.size else 0.0
        self._pos.append(pts)
        self._seg.append(seg)

    @property
    def samples(self) -> int:
        return self._n

    def _segments(self) -> tuple[np.ndarray, np.ndarray]:
        pos = np.concatenate(self._pos) if self._pos else np.zeros(0, dtype=np.int64)
        seg = np.concatenate(self._seg) if self._seg else np.zeros(0, dtype=np.float64)
        if self._n > 0 and (pos.size == 0 or pos[-1] < self._n):
            pos = np.append(pos, self._n)
            seg = np.append(seg, self._acc)
        return pos, seg

    def _window_energy(self, bounds, window_s: float) -> np.ndarray:
        pos, seg = self._segments()
        starts, ends = bounds
        first = np.searchsorted(pos, starts, side="right")
        stop = np.searchsorted(pos, ends, side="right")
        return _range_sums(seg, first, stop) * (1.0 / (window_s * self.sample_rate))

    def momentary_energy(self) -> np.ndarray:
        """Mean square of every 400 ms gating block (channel-summed, K-weighted)."""
        return self._window_energy(momentary_bounds(self._n, self.sample_rate), BLOCK_S)

    def short_term_energy(self) -> np.ndarray:
        """Mean square of every 3 s short-term window."""
        return self._window_energy(short_term_bounds(self._n, self.sample_rate), SHORT_TERM_S)

    def result(self, absolute_gate_lufs: float = ABSOLUTE_GATE_LUFS) -> dict:
        """Integrated, momentary max, short-term max (LUFS) and loudness range (LU)."""
        mom = self.momentary_energy()
        st = energy_to_lufs(self.short_term_energy())
        return {
            "integrated_lufs": gated_integrated(mom, absolute_gate_lufs),
            "momentary_max_lufs": float(energy_to_lufs(mom.max())) if mom.size else -math.inf,
            "short_term_max_lufs": float(st.max()) if st.size else -math.inf,
            "loudness_range_lu": loudness_range(st, absolute_gate_lufs),
        }
