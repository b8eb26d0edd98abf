"""Tonal matching on the master: EQ gains that move the mix's centroid and band balance to the style.

Both soft tonal targets (see :mod:`automix.meters.spectral`) are means over the
kept analysis frames of each frame's normalised magnitude distribution: the
centroid ``mean_t(sum_k f_k |X_tk| / sum_k |X_tk|)`` and the band shares
``mean_t(sum_{k in band} |X_tk| / sum_k |X_tk|)``. A linear EQ multiplies each
frame's magnitudes by its response, ``|X'_tk| = |H(f_k)| |X_tk|``, so its
effect is computed from per-frame data of the signal entering the EQ, without
re-rendering: for each kept frame ``t`` and each frequency group ``g`` (single
bins below 400 Hz, 1/24 octave above, edges at 250 Hz and 4 kHz so every group
lies in one band; :func:`frequency_groups`) :func:`bus_spectrum` keeps
``F_tg = sum_{k in g} f_k |X_tk|`` and ``M_tg = sum_{k in g} |X_tk|``, and after
an EQ of response ``|H_g|`` (read at the group's centre)

    centroid = mean_t(sum_g |H_g| F_tg / sum_g |H_g| M_tg),  shares likewise.

The EQ's response varies by less than 0.2 dB inside a group (a +-4 dB shelf),
so the prediction matches a render within 0.1 % centroid. Memory: 8 bytes per
group and frame (float32), at most :data:`MAX_FRAMES` frames: every frame of a bus up
to 3 min 10 s, evenly spaced ones of a longer bus (every second frame of 6 minutes,
every fourth of 12): a long mix's tone is as well estimated from 8192 frames, and
the search's memory stays about 10 MB whatever the length. The frame selection is
the meter's (60 dB below the loudest frame); an EQ of a few dB moves frames across
it only at the very bottom of the range, which the prediction ignores.

That signal is the bus after the master's trim and compressor (the stages before
the EQ): a compressor working hard on a bus reshapes its frames' spectra (a
14 dB squash moved a share by 0.009, against 0.003 for the prediction
error), so the bus itself is the wrong reference. ``|H|`` comes from the EQ's float64
section design in numpy (:func:`automix.inference.eq_sos`, tested equal to the plugin's
:func:`automix.plugins.eq.eq_sections`), so a mix does not import torch.

The search moves the master low shelf, mid peak (peak2) and high shelf gains,
with a small penalty per dB so it prefers gentle moves, inside the engineer's
envelope (:mod:`automix.envelope`, ``style.envelope``): each shelf within
``+-master_shelf_max_abs_db``, the peak within ``+-master_peak_max_abs_db``, and
the net response of all the EQ's shelves and peaks (the high-pass left out) on
:func:`~automix.envelope.net_grid_hz` within ``+-master_eq_net_max_abs_db`` as a
constraint of the search (SLSQP), followed by a scale-back of the moved gains
toward 0 that guarantees it. The searches run on the prediction's exact derivatives
(:class:`ToneModel`: the quotient rule on each frame's sums, the response's slopes
in its gains from the float64 design), where finite differences of a cost this
flat near a bound took hundreds of iterations (8 s on a 3-minute bus) to stop. When its answer still misses a target,
:func:`reach` finds how far the EQ could take each target alone inside the
same envelope, so the report can tell "out of reach" from "traded off". The
search is solved to convergence on that smooth cost, so a session recorded at
another level gets the same EQ to within what its inputs differ by.
"""
from __future__ import annotations

import copy
import math
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
from scipy.optimize import minimize

from automix.meters.spectral import BAND_EDGES_HZ, analysis_tables
from automix.settings import GAIN_DECIMALS, PluginSettings
from automix.styles import StyleTargets
from automix.plugins import get_plugin

MOVED = ("low_shelf_gain_db", "peak2_gain_db", "high_shelf_gain_db")
#: toward a reference, the spectrum's shape is steered while the centroid stays within this share of its tolerance
#: (or where the match left it, if further): a reference's centroid asks for less top than its long-term spectrum
#: does (the centroid weighs every frame alike, the spectrum the loud ones), so the shape gets most of the
#: tolerance. The master's later stages move the centroid little (under 1.5 % of the target on 19 of 20 held-out
#: sessions); where they take it out of its tolerance, the mixer matches again (``mixer._recentred``)
SHAPE_KEEP_CENTROID = 0.9
#: ... and the band errors within this share of theirs (or where the match left them, if further)
SHAPE_KEEP_BALANCE = 0.5
#: the two, in the order of :class:`ToneErrors` (centroid, then the low, mid and high bands)
SHAPE_KEEP = np.array([SHAPE_KEEP_CENTROID] + [SHAPE_KEEP_BALANCE] * 3)
#: penalty per dB^2 of EQ move, relative to a squared error of one tolerance
_MOVE_COST = 0.002
#: a second search where errors beyond this share of their tolerance cost :data:`_OVER_COST` times more per
#: unit squared: where the EQ can put both tonal targets inside their tolerances it does, rather than trading
#: one just outside for the other well inside (kept only when it meets more targets than the plain search)
_INSIDE = 0.9
_OVER_COST = 20.0


def eq_magnitude(params: dict, sample_rate: int, freqs: np.ndarray) -> np.ndarray:
    """|H(f)| of the EQ at ``freqs`` (Hz), from its float64 design (the sections the twins run).

    The float64 design rather than a float32 render: the search below needs a
    cost that is smooth in the gains, or round-off of the input decides where it
    stops. It differs from the float32 coefficients pedalboard runs by far less
    than the spectrum estimate's own error (-70 dB at the lowest shelf corner).
    """
    from automix.dsp import sos_response
    from automix.inference import eq_sos  # the numpy design: a mix does not import torch

    return np.abs(sos_response(eq_sos(params, sample_rate), freqs, sample_rate))


@lru_cache(maxsize=1)
def frequency_groups() -> tuple[np.ndarray, np.ndarray]:
    """``(group of each analysis bin (1025,) int, first bin of each group (G,))``.

    Single bins below 400 Hz (where a 1/24 octave is narrower than a bin's
    10.8 Hz), 1/24-octave groups anchored on 4 kHz above; 250 Hz falls between
    single bins and 4 kHz on a group edge (a bin at exactly 4 kHz would be
    mid, as in the meter), so every group lies in one band. 153 groups.
    """
    _, f, _ = analysis_tables()
    with np.errstate(divide="ignore"):
        octave_key = np.ceil(24.0 * np.log2(np.maximum(f, 1.0) / BAND_EDGES_HZ[1]))
    key = np.where(f < 400.0, np.arange(f.size) - 10_000.0, octave_key)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    return group, first


def _group_matrix() -> np.ndarray:
    """``(1025, G)`` float32 indicator of each bin's group."""
    group, first = frequency_groups()
    m = np.zeros((group.size, first.size), dtype=np.float32)
    m[np.arange(group.size), group] = 1.0
    return m


#: the most analysis frames the tone match keeps (43 per second: 3 min 10 s at every frame)
MAX_FRAMES = 8192


def bus_spectrum(path: str, sample_rate: int, before: Sequence[PluginSettings] = (), input_gain_db: float = 0.0,
                 power: bool = False, threads: int = 1,
                 keep: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, ...]:
    """Per-frame group sums of a stereo file's analysis frames: ``(centres (G,) Hz, F (T, G), M (T, G))``.

    ``F_tg = sum_{k in g} f_k |X_tk|`` and ``M_tg = sum_{k in g} |X_tk|`` (float32) over the frames the meter
    keeps (``T`` of them), ``g`` the groups of :func:`frequency_groups`; ``centres`` (float64) is each group's
    magnitude-weighted mean frequency over those frames (the mean of its bins' frequencies where it is empty),
    where the EQ's response stands for the group's.

    ``before`` (and a leading ``input_gain_db``) is run over the file first, streaming
    through the production engine: the master stages ahead of the EQ. The frames
    are the meter's own (:class:`automix.meters.spectral.AnalysisFrames`: mono
    fold, soxr to 22,050 Hz, centred Hann 2048/512) and so is the 60 dB
    selection, so before any EQ :func:`tonal_measures` reads what the meter reads.
    One streaming pass; the sums of every frame (every ``stride``-th beyond :data:`MAX_FRAMES`) are kept until
    the selection at the end. With ``power``, two more arrays for :func:`match_tone`'s ``spectrum``: the long-term
    power per group ``(G,)`` float64 (the sum of ``|X_tk|^2`` over the group's bins and every frame read), how
    an EQ changes the bus's spectrum, and the bus's octave levels (dB, :data:`automix.reference.OCTAVES_HZ`)
    measured as a reference's are (:func:`automix.reference.octave_levels_db`, at the file's own rate, so the
    top octave, above the analysis's 11 kHz, is measured whole). ``threads`` 2 frames and analyses each block on
    a second thread while the chain renders the next (the same numbers either way). ``keep``: also handed every
    ``(2, n)`` float32 block the stages ``before`` emit, in order (the master renderer's
    :meth:`~automix.master_render.MasterRenderer.head`).
    """
    import soundfile as sf

    from automix.audio_io import BLOCK_FRAMES
    from automix.engines.pedalboard_engine import StreamingChain, build_stages
    from automix.master_render import BehindSink
    from automix.meters.spectral import ANALYSIS_RATE, HOP, AnalysisFrames, frame_spectra, kept_frames

    _, f, _ = analysis_tables()
    groups = _group_matrix()
    weighted = groups * f.astype(np.float32)[:, None]
    framer = AnalysisFrames(sample_rate)
    energy, fsum, msum = [], [], []
    frames_in_file = sf.info(path).frames * ANALYSIS_RATE / sample_rate / HOP + 2
    stride = max(1, math.ceil(frames_in_file / MAX_FRAMES))
    seen = [0]
    long_term = np.zeros(groups.shape[1])
    if power:
        from automix.reference import OctaveSpectrum

        octaves = OctaveSpectrum(sample_rate)  # the reference's own measure, at the bus's rate

    def add(frames):
        first, seen[0] = seen[0], seen[0] + frames.shape[0]
        frames = frames[(-first) % stride::stride]  # the frames whose index is a multiple of the stride
        if frames.shape[0]:
            e, mag = frame_spectra(frames)
            if power:
                long_term[:] += np.einsum("tk,tk->k", mag, mag, dtype=np.float64) @ groups
            energy.append(e)
            fsum.append(mag @ weighted)
            msum.append(mag @ groups)

    def analyse(y):
        mid = 0.5 * (y[0].astype(np.float64) + y[-1])
        if power:
            octaves.process(mid)
        add(framer.push(mid))

    chain = StreamingChain(build_stages(sample_rate, before, input_gain_db or None), sample_rate, BLOCK_FRAMES)
    with sf.SoundFile(path) as fh, BehindSink(analyse, threads) as behind:
        for block in fh.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            y = chain.process(np.ascontiguousarray(block.T))
            if keep is not None:
                keep(y)
            behind(y)
        y = chain.flush()
        if y.shape[-1]:
            if keep is not None:
                keep(y)
            behind(y)
    add(framer.tail())
    keep = kept_frames(np.concatenate(energy)) if energy else np.zeros(0, dtype=bool)
    big_f = np.concatenate(fsum)[keep] if energy else np.zeros((0, groups.shape[1]), np.float32)
    big_m = np.concatenate(msum)[keep] if energy else np.zeros((0, groups.shape[1]), np.float32)
    group, first = frequency_groups()
    plain = (groups * f[:, None]).sum(axis=0) / groups.sum(axis=0)
    ftot, mtot = big_f.sum(axis=0, dtype=np.float64), big_m.sum(axis=0, dtype=np.float64)
    centres = np.where(mtot > 0, ftot / np.where(mtot > 0, mtot, 1.0), plain)
    if not power:
        return centres, big_f, big_m
    return centres, big_f, big_m, long_term, 10.0 * np.log10(np.maximum(octaves.result(), 1e-30))


def _band_matrix(freqs: np.ndarray) -> np.ndarray:
    """``(G, 3)`` band membership of groups by their centre frequency (the meter's rule)."""
    lo, hi = BAND_EDGES_HZ
    return np.stack([freqs < lo, (freqs >= lo) & (freqs <= hi), freqs > hi], axis=1).astype(np.float64)


def tonal_measures(freqs: np.ndarray, fsum: np.ndarray, msum: np.ndarray, gain: np.ndarray | None = None
                   ) -> tuple[float, np.ndarray]:
    """(centroid Hz, band shares low/mid/high) from per-frame group sums, as the meter defines them.

    ``freqs`` ``(G,)`` are the group centres (band membership), ``fsum`` and ``msum``
    ``(T, G)`` the kept frames' ``F_tg`` and ``M_tg`` of :func:`bus_spectrum`;
    ``gain`` ``(G,)`` an EQ's magnitude response at the centres (default 1).
    A frame of zero magnitude reads 0, no frames reads 0 and shares all 0.
    """
    w = np.ones(len(freqs)) if gain is None else np.asarray(gain, dtype=np.float64)
    return _Frames(freqs, fsum, msum).measures(w)[:2]


class _Frames:
    """The frames' group sums in float64 (a smooth cost), groups ordered by band so that each band is a run,
    with the tonal measures of an EQ's gains and their exact gradient (:mod:`automix.kernels.tone_sums`)."""

    def __init__(self, freqs: np.ndarray, fsum: np.ndarray, msum: np.ndarray, threads: int = 1):
        self.threads = threads
        band = _band_matrix(np.asarray(freqs, dtype=np.float64)).argmax(axis=1)
        self.order = np.argsort(band, kind="stable")
        self.fsum = np.ascontiguousarray(np.asarray(fsum, dtype=np.float64)[:, self.order])
        self.msum = np.ascontiguousarray(np.asarray(msum, dtype=np.float64)[:, self.order])
        self.band_starts = np.searchsorted(band[self.order], np.arange(4)).astype(np.int64)
        self.bands = np.eye(3)[band[self.order]]  # (G, 3), in the sorted order

    def every(self, step: int) -> "_Frames":
        """The same groups over every ``step``-th frame only (a cheaper estimate of the same measures)."""
        if step <= 1:
            return self
        out = copy.copy(self)
        out.fsum = np.ascontiguousarray(self.fsum[::step])
        out.msum = np.ascontiguousarray(self.msum[::step])
        return out

    def measures(self, w: np.ndarray, gradient: bool = False):
        """(centroid, shares) for gains ``w`` ``(G,)``; with ``gradient`` also ``d centroid / d w`` ``(G,)`` and
        ``d shares / d w`` ``(3, G)``, exact (the quotient rule on each frame's sums)."""
        from automix.kernels.tone_sums import frame_backsums, frame_sums_halved

        n_frames, n_groups = self.fsum.shape
        if n_frames == 0:
            return (0.0, np.zeros(3)) + ((np.zeros(n_groups), np.zeros((3, n_groups))) if gradient else ())
        sums = np.empty((n_frames, 4))
        frame_sums_halved(self.fsum, self.msum, np.ascontiguousarray(w[self.order], dtype=np.float64),
                          self.band_starts, sums, self.threads)
        num, bands = sums[:, 0], sums[:, 1:]
        den = bands.sum(axis=1)
        live = den > 0
        safe = np.where(live, den, 1.0)
        ratio = np.where(live, num / safe, 0.0)
        per_frame = np.where(live[:, None], bands / safe[:, None], 0.0)
        centroid = float(np.mean(ratio))
        raw = per_frame.mean(axis=0)
        total = max(float(raw.sum()), 1e-300)
        if not gradient:
            return centroid, raw / total
        # d(num_t / den_t)/dw_g = (F_tg - ratio_t M_tg) / den_t; d(bands_tj / den_t)/dw_g = M_tg (B_gj - per_tj) / den_t,
        # and sum_j per_tj = 1 on a live frame: one more read of the frames gives them all
        inv = np.where(live, 1.0 / safe, 0.0) / n_frames
        back_f, back_m = np.empty(n_groups), np.empty((4, n_groups))
        frame_backsums(self.fsum, self.msum, inv, np.column_stack([ratio * inv, per_frame * inv[:, None]]),
                       back_f, back_m)
        m_per = back_m[1:].T  # (G, 3)
        d_raw = (self.bands * m_per.sum(axis=1)[:, None] - m_per).T
        d_shares_sorted = d_raw / total - np.outer(raw, d_raw.sum(axis=0)) / total ** 2
        d_centroid, d_shares = np.empty(n_groups), np.empty((3, n_groups))
        d_centroid[self.order] = back_f - back_m[0]
        d_shares[:, self.order] = d_shares_sorted
        return centroid, raw / total, d_centroid, d_shares


#: the step (dB) of the central differences that give the EQ's response slopes in its gains (error ~1e-10)
_GAIN_STEP_DB = 1e-4


def db_slopes(params: dict, names: Sequence[str], sample_rate: int, freqs: np.ndarray,
              highpass: bool = True) -> np.ndarray:
    """``d |H(f)|_dB / d gain_dB`` of the EQ at ``freqs`` for each gain in ``names``: shape ``(K, len(names))``.

    Central differences of the float64 design, every perturbed EQ designed in one vectorised call; the
    response is smooth in its gains, so this is exact to ~1e-10 dB/dB.
    """
    from automix.inference import eq_sections, section_db

    rows = {k: np.full(2 * len(names), float(v)) for k, v in params.items()}
    for i, name in enumerate(names):
        rows[name][2 * i] += _GAIN_STEP_DB
        rows[name][2 * i + 1] -= _GAIN_STEP_DB
    sections = eq_sections(float(sample_rate), rows)
    db = section_db(sections if highpass else sections[:, 2:], freqs, sample_rate).sum(axis=-2)
    return ((db[0::2] - db[1::2]) / (2.0 * _GAIN_STEP_DB)).T


class ToneModel:
    """The master EQ's effect on the bus's centroid and band shares as a function of the moved gains, with
    exact derivatives for the searches.

    ``g`` is the :data:`MOVED` gains (dB), followed by a high shelf shared by every stem when ``stem_shelf_hz``
    is given. ``freqs, fsum, msum`` are :func:`bus_spectrum`'s; ``base`` the EQ's other parameters.
    """

    def __init__(self, freqs: np.ndarray, fsum: np.ndarray, msum: np.ndarray, base: dict, sample_rate: int,
                 stem_shelf_hz: float | None = None, threads: int = 1):
        self.freqs = np.asarray(freqs, dtype=np.float64)
        self.frames = _Frames(self.freqs, fsum, msum, threads)
        self.base, self.sample_rate = dict(base), sample_rate
        self.shelf = None if stem_shelf_hz is None else dict(get_plugin("eq").defaults(),
                                                             high_shelf_hz=float(stem_shelf_hz))
        self._last = None

    def params(self, g) -> dict:
        """The EQ's parameters with the moved gains ``g``."""
        return dict(self.base, **dict(zip(MOVED, map(float, g[:len(MOVED)]))))

    def response(self, g) -> np.ndarray:
        """|H| at the group centres ``(G,)``: the master EQ's, times the stem shelf's."""
        h = eq_magnitude(self.params(g), self.sample_rate, self.freqs)
        if self.shelf is not None:
            h = h * eq_magnitude(dict(self.shelf, high_shelf_gain_db=float(g[-1])), self.sample_rate, self.freqs)
        return h

    def predict(self, g) -> tuple[float, np.ndarray]:
        """(centroid Hz, band shares (3,)) after the EQ."""
        if self._last is not None and self._last[0] == np.asarray(g, dtype=np.float64).tobytes():
            return self._last[1][:2]
        return self.frames.measures(self.response(g))

    def jacobian(self, g) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(centroid, shares, d centroid / d g ``(n,)``, d shares / d g ``(3, n)``)."""
        key = np.asarray(g, dtype=np.float64).tobytes()
        if self._last is not None and self._last[0] == key:  # the searches ask for a point's value and slope apart
            return self._last[1]
        h = self.response(g)
        slopes = db_slopes(self.params(g), MOVED, self.sample_rate, self.freqs)
        if self.shelf is not None:
            slopes = np.concatenate([slopes, db_slopes(dict(self.shelf, high_shelf_gain_db=float(g[-1])),
                                                       ("high_shelf_gain_db",), self.sample_rate, self.freqs)], axis=1)
        dh = h[:, None] * slopes * (math.log(10.0) / 20.0)
        c, b, dc, db = self.frames.measures(h, gradient=True)
        self._last = (key, (c, b, dc @ dh, db @ dh))
        return self._last[1]

    def net_slack(self, g, grid: np.ndarray, net_max: float) -> np.ndarray:
        """``>= 0`` where the net response of the EQ's shelves and peaks on ``grid`` is inside ``+-net_max`` dB."""
        net = net_response_db(self.params(g), self.sample_rate, grid)
        return np.concatenate([net_max - net, net_max + net])

    def net_slack_jacobian(self, g, grid: np.ndarray) -> np.ndarray:
        """d :meth:`net_slack` / d g: ``(2 K, n)``."""
        j = db_slopes(self.params(g), MOVED, self.sample_rate, grid, highpass=False)
        j = np.concatenate([j, np.zeros((j.shape[0], len(g) - len(MOVED)))], axis=1)
        return np.concatenate([-j, j])


class ToneErrors:
    """The centroid and band errors of a :class:`ToneModel` in units of their tolerances (centroid in log
    ratio), with their jacobian."""

    def __init__(self, model: ToneModel, centroid: tuple[float, float], target_balance, balance_tolerance: float):
        self.model = model
        self.target_c, self.tol_c = centroid
        self.target_b, self.tol_b = np.asarray(target_balance, dtype=np.float64), float(balance_tolerance)

    def on_fewer_frames(self, most: int) -> "ToneErrors":
        """The same errors estimated on at most ``most`` evenly spaced frames: a cheaper guide for a search whose
        result is then checked with these."""
        step = -(-self.model.frames.fsum.shape[0] // most)
        if step <= 1:
            return self
        model = copy.copy(self.model)
        model.frames, model._last = self.model.frames.every(step), None
        return ToneErrors(model, (self.target_c, self.tol_c), self.target_b, self.tol_b)

    def _errors(self, c: float, b: np.ndarray) -> np.ndarray:
        return np.append(np.log(max(c, 1.0) / self.target_c) / np.log1p(self.tol_c), (b - self.target_b) / self.tol_b)

    def __call__(self, g) -> np.ndarray:
        return self._errors(*self.model.predict(g))

    def with_jacobian(self, g) -> tuple[np.ndarray, np.ndarray]:
        """(errors (4,), d errors / d g (4, n))."""
        c, b, dc, db = self.model.jacobian(g)
        e = self._errors(c, b)
        de_c = dc / c / np.log1p(self.tol_c) if c > 1.0 else np.zeros_like(dc)
        return e, np.vstack([de_c, db / self.tol_b])


def net_response_db(params: dict, sample_rate: int, freqs: np.ndarray) -> np.ndarray:
    """The EQ's shelves and peaks together (the high-pass left out), dB at ``freqs``, from its float64 design."""
    from automix.dsp import sos_response
    from automix.inference import eq_sos

    h = sos_response(eq_sos(params, sample_rate, highpass=False), freqs, sample_rate)
    return 20.0 * np.log10(np.maximum(np.abs(h), 1e-300))


def envelope_box(style: StyleTargets) -> list[tuple[float, float]]:
    """Bounds (dB) of the moved gains: the envelope's, inside the plugin's."""
    spec = get_plugin("eq")
    env = style.envelope
    limit = {"low_shelf_gain_db": env.master_shelf_max_abs_db, "high_shelf_gain_db": env.master_shelf_max_abs_db,
             "peak2_gain_db": env.master_peak_max_abs_db}
    return [(max(spec.spec(k).minimum, -limit[k]), min(spec.spec(k).maximum, limit[k])) for k in MOVED]


def match_tone(freqs: np.ndarray, fsum: np.ndarray, msum: np.ndarray, eq: PluginSettings, style: StyleTargets,
               sample_rate: int, stem_shelf: tuple[float, float, float] | None = None,
               spectrum: tuple[np.ndarray, ...] | None = None, threads: int = 1,
               later: Callable[[Callable[[], None]], None] | None = None) -> tuple[PluginSettings, dict]:
    """Return master EQ settings that best reach the style's centroid and band balance inside the envelope, and
    what they predict.

    ``freqs, fsum, msum`` are :func:`bus_spectrum`'s. The moved gains stay in
    :func:`envelope_box` and the net response of the whole EQ (shelves and peaks)
    on the envelope's grid within ``+-master_eq_net_max_abs_db``.

    ``stem_shelf = (hz, lo_db, hi_db)`` adds one more variable to the search: a high shelf at ``hz`` shared
    by every stem, in ``[lo_db, hi_db]``, modelled as a shelf on the bus (exact for a linear chain; the stems'
    compressors after their EQ make it approximate). Its gain is returned as ``info["stem_shelf_db"]``; the
    caller applies it to the stems and matches again on the new bus (:mod:`automix.stem_shelves`).

    ``spectrum = (power, reference_db[, measured_db])`` (:func:`octave_shape`'s arguments): steer the long-term
    spectrum's shape too, toward a reference track's (``power`` and ``measured_db`` from :func:`bus_spectrum`
    with ``power=True``; ``reference_db`` the reference's octave levels at :data:`automix.reference.OCTAVES_HZ`):
    once the centroid and balance are matched, the gains move on to bring the RMS over octaves of the two
    shapes' difference (levels relative to their mean, as loudness matching leaves them) down, keeping the
    centroid and band errors within :data:`SHAPE_KEEP_CENTROID` and :data:`SHAPE_KEEP_BALANCE` of their
    tolerances (:func:`_reshaped`); ``info`` gives it before and after (``shape_before_db``,
    ``shape_predicted_db``). ``threads`` 2 splits each evaluation's frames between two threads (the same
    numbers either way). ``later``: passed to :func:`reach` (the balance half of ``info["reach"]`` may then be
    filled after this returns; wait for it before reading the report's reach).
    """
    from automix.envelope import net_grid_hz

    target_c = style.spectral_centroid_hz
    target_b = np.array(style.frequency_balance.as_tuple())
    tol_c = style.tolerances.centroid_rel
    tol_b = style.tolerances.balance_abs
    base = dict(eq.params)
    bounds = envelope_box(style)
    if stem_shelf is not None:
        bounds = bounds + [(float(stem_shelf[1]), float(stem_shelf[2]))]
    lows, highs = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    start = np.clip(np.array([base[k] for k in MOVED] + [0.0] * (stem_shelf is not None), dtype=np.float64),
                    lows, highs)
    grid = net_grid_hz(style.envelope)
    net_max = style.envelope.master_eq_net_max_abs_db
    model = ToneModel(freqs, fsum, msum, base, sample_rate, None if stem_shelf is None else stem_shelf[0], threads)
    predict, response = model.predict, model.response
    errors = ToneErrors(model, (target_c, tol_c), target_b, tol_b)
    shape = None if spectrum is None else octave_shape(freqs, *spectrum)

    def net_slack(g):  # >= 0 where the net response is inside the envelope
        return model.net_slack(g, grid, net_max)

    def cost(g):
        e, de = errors.with_jacobian(g)
        value = e[0] ** 2 + 0.5 * float(np.sum(e[1:] ** 2)) + _MOVE_COST * float(np.sum((g - start) ** 2))
        return value, 2.0 * e[0] * de[0] + e[1:] @ de[1:] + 2.0 * _MOVE_COST * (g - start)

    def cost_inside(g):
        value, grad = cost(g)
        e, de = errors.with_jacobian(g)  # the point cost just solved, kept by the model
        over = np.maximum(np.abs(e) - _INSIDE, 0.0)
        return value + _OVER_COST * float(np.sum(over ** 2)), grad + 2.0 * _OVER_COST * (over * np.sign(e)) @ de

    def met(g) -> int:
        c, b = predict(g)
        return int(abs(c / target_c - 1) <= tol_c) + int(np.max(np.abs(b - target_b)) <= tol_b)

    constraints = [{"type": "ineq", "fun": lambda g: net_slack(g) - 1e-6,
                    "jac": lambda g: model.net_slack_jacobian(g, grid)}]
    before = predict(start)
    # Solved to convergence on a smooth cost with its exact gradient: the same session at another recording level
    # must get the same EQ (level invariance), and a loosely solved search lands wherever its path stops. Not
    # snapped to a coarse grid: the result varies as little as its inputs do. ftol 1e-10 is ~1e-5 dB in the gains;
    # tighter sits at the cost's own round-off (~1e-12 on a 3-minute bus) and the line search never ends.
    def solve(fn):
        best = minimize(fn, start, jac=True, method="SLSQP", bounds=bounds, constraints=constraints,
                        options={"ftol": 1e-10, "maxiter": 500})
        return _inside(np.clip(best.x, lows, highs), net_slack)

    gains = solve(cost)
    if met(gains) < 2:
        both = solve(cost_inside)
        if met(both) > met(gains):
            gains = both
    minimax = None
    if met(gains) < 2:  # the penalised searches can stop short where a setting meeting both exists: the minimax finds it
        minimax, both = both_best(errors, gains, bounds, constraints)
        both = _inside(both, net_slack)
        if met(both) > met(gains):
            gains = both
    if shape is not None:
        gains = _reshaped(gains, shape, response, errors, net_slack, solve_args=(bounds, constraints, lows, highs))
    gains = _written(gains)  # predicted as delivered
    after = predict(gains)
    params = dict(base, **{k: float(v) for k, v in zip(MOVED, gains)})
    # whether the match misses with the moved gains: then the report says why, and the caller may move the stems
    missed = abs(after[0] / target_c - 1) > tol_c or np.max(np.abs(after[1] - target_b)) > tol_b
    placed = None
    if shape is not None and stem_shelf is None:
        placed = _placed(params, model, errors, shape, style, grid)
        if placed is not None:
            params = placed
            after = model.frames.measures(eq_magnitude(params, sample_rate, model.freqs))[:2]
    info = {
        **({"stem_shelf_db": round(float(gains[-1]), 2)} if stem_shelf is not None else {}),
        "centroid_before_hz": before[0], "centroid_predicted_hz": after[0],
        "balance_before": before[1].tolist(), "balance_predicted": after[1].tolist(),
        "moves_db": {k: round(float(params[k] - s), 2) for k, s in zip(MOVED, start)},
        "net_max_abs_db": round(float(np.max(np.abs(net_response_db(params, sample_rate, grid)))), 3),
        **({"shape_before_db": round(shape(response(start)), 3),
            "shape_predicted_db": round(shape(eq_magnitude(params, sample_rate, model.freqs)), 3)}
           if shape is not None else {}),
        **({"peaks_placed": {p: {"hz": params[f"{p}_hz"], "gain_db": params[f"{p}_gain_db"]} for p in _PEAKS}}
           if placed is not None else {}),
    }
    # Only when the match itself predicts a miss: then the report has to say whether the target was out of
    # the EQ's reach or given up for the other target (a pass costs nothing extra).
    if missed:
        info["reach"] = reach(errors, gains, bounds, constraints, both=minimax, later=later)
    return PluginSettings("eq", params), info


def _reshaped(gains, shape, response, errors, net_slack, solve_args) -> np.ndarray:
    """The gains that bring the spectrum's shape closest to the reference's while the centroid and band errors
    stay where the match put them, or within :data:`SHAPE_KEEP` of their tolerances if that is looser: the shape
    is steered with what the centroid and balance leave free, never traded against them."""
    bounds, constraints, lows, highs = solve_args
    keep = np.maximum(np.abs(errors(gains)), SHAPE_KEEP)
    guide = errors.on_fewer_frames(_SEARCH_FRAMES)  # the search's; the result is checked on every frame below

    def held_jacobian(g):
        e, de = guide.with_jacobian(g)
        return -2.0 * e[:, None] * de

    held = {"type": "ineq", "fun": lambda g: keep ** 2 - guide(g) ** 2, "jac": held_jacobian}
    best = minimize(lambda g: shape(response(g)) ** 2 + _MOVE_COST * float(np.sum((g - gains) ** 2)), gains,
                    method="SLSQP", bounds=bounds, constraints=list(constraints) + [held],
                    options={"ftol": 1e-12, "eps": 1e-6, "maxiter": 300})
    shaped = _inside(np.clip(best.x, lows, highs), net_slack)
    inside = bool(np.all(np.abs(errors(shaped)) <= keep + 1e-6))
    return shaped if inside and shape(response(shaped)) < shape(response(gains)) else gains


_PEAKS = ("peak1", "peak2", "peak3")
#: toward a reference, where the master's peaks may be placed (Hz): the shelves own the ends of the spectrum
PEAK_PLACE_HZ = (50.0, 10000.0)
#: a placement is kept when it brings the shape this much closer (dB RMS over octaves) than the gains alone
_PLACE_GAIN_DB = 0.05
#: placing the peaks: cost per dB^2 of a bell's gain, and per dB^4 of a bell working against a shelf (in the
#: units of the squared shape distance, dB^2): a bell earns its place by bringing the shape closer
_PLACE_MOVE_COST = 0.03
_OPPOSED_COST = 0.05
#: the most frames the shape searches hold the tonal errors on (their results are checked on every frame)
_SEARCH_FRAMES = 2048


def _placed(params: dict, model: ToneModel, errors: ToneErrors, shape, style: StyleTargets, grid: np.ndarray
            ) -> dict | None:
    """Toward a reference: the master EQ with its three peaks moved (centre and gain; Q as predicted) and its
    shelves' gains, bringing the long-term spectrum's shape closer to the reference's than the moved gains of
    :func:`_reshaped` could, with the same limits (each gain in the envelope's box, the net response within
    ``+-master_eq_net_max_abs_db``) and the centroid and band errors held as :func:`_reshaped` holds them.

    A mastering engineer matching a reference puts the bell where the two spectra differ: the search starts
    from the EQ as matched and from the peaks put on the octaves that differ most, and returns the better of
    the two as written (gains 0.01 dB, centres at the plugin's resolution), or ``None`` when neither brings
    the shape :data:`_PLACE_GAIN_DB` closer.
    """
    eq, env, sr = get_plugin("eq"), style.envelope, model.sample_rate
    shelves = ("low_shelf_gain_db", "high_shelf_gain_db")
    gains = shelves + tuple(f"{p}_gain_db" for p in _PEAKS)
    centres = tuple(f"{p}_hz" for p in _PEAKS)

    def box(name, limit):
        spec = eq.spec(name)
        return max(spec.minimum, -limit), min(spec.maximum, limit)

    bounds = ([box(k, env.master_shelf_max_abs_db) for k in shelves] + [box(k, env.master_peak_max_abs_db)
                                                                         for k in gains[2:]]
              + [(math.log2(max(eq.spec(k).minimum, PEAK_PLACE_HZ[0])), math.log2(min(eq.spec(k).maximum,
                                                                                       PEAK_PLACE_HZ[1])))
                 for k in centres])
    lows, highs = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])

    def written_free(x) -> dict:  # unrounded, for a smooth search
        return dict(params, **{k: float(v) for k, v in zip(gains, x[:5])},
                    **{k: float(2.0 ** v) for k, v in zip(centres, x[5:])})

    def written(x) -> dict:
        """The EQ as the settings file writes it, the bells numbered from low to high (the same filters: their
        order in the cascade does not change the response)."""
        p = written_free(np.clip(x, lows, highs))
        bells = sorted((p[f"{peak}_hz"], p[f"{peak}_gain_db"], p[f"{peak}_q"]) for peak in _PEAKS)
        for peak, (hz, gain, q) in zip(_PEAKS, bells):
            p.update({f"{peak}_hz": hz, f"{peak}_gain_db": gain, f"{peak}_q": q})
        return {k: eq.spec(k).quantize(v) for k, v in p.items()}

    def magnitude(x):
        return eq_magnitude(written_free(x), sr, model.freqs)

    def tone_errors(p: dict) -> np.ndarray:
        return errors._errors(*model.frames.measures(eq_magnitude(p, sr, model.freqs))[:2])

    last = {}
    # the search holds the tonal errors on at most _SEARCH_FRAMES frames (evenly spaced); the result is checked on
    # all of them below
    frames = errors.on_fewer_frames(_SEARCH_FRAMES).model.frames

    def held(x) -> tuple[np.ndarray, np.ndarray]:
        """``keep^2 - errors^2`` and its jacobian ``(4, 8)``: the frames read once, with their exact slopes in
        the response, times the response's slopes in ``x`` (differences of the float64 design, cheap)."""
        key = x.tobytes()
        if key not in last:
            h = eq_magnitude(written_free(x), sr, model.freqs)
            c, b, dc, db = frames.measures(h, gradient=True)
            e = errors._errors(c, b)
            dh = np.empty((h.size, x.size))
            for i in range(x.size):
                step = np.zeros_like(x)
                step[i] = 1e-6
                dh[:, i] = (eq_magnitude(written_free(x + step), sr, model.freqs) - h) / 1e-6
            de_c = dc / c / np.log1p(errors.tol_c) if c > 1.0 else np.zeros_like(dc)
            de = np.vstack([de_c, db / errors.tol_b]) @ dh
            last.clear()
            last[key] = ((keep - 0.01) ** 2 - e ** 2, -2.0 * e[:, None] * de)
        return last[key]

    def net_slack(p: dict) -> np.ndarray:
        net = net_response_db(p, sr, grid)
        return np.concatenate([env.master_eq_net_max_abs_db - net, env.master_eq_net_max_abs_db + net])

    start = np.array([params[k] for k in gains] + [math.log2(params[k]) for k in centres])
    keep = np.maximum(np.abs(tone_errors(params)), SHAPE_KEEP)
    before = shape(eq_magnitude(params, sr, model.freqs))
    # margins for writing the result at the settings' resolution: 0.02 dB of net response, 1 % of a tolerance
    constraints = [{"type": "ineq", "fun": lambda x: net_slack(written_free(x)) - 0.02},
                   {"type": "ineq", "fun": lambda x: held(x)[0], "jac": lambda x: held(x)[1]}]

    # the second start: a bell on each of the octaves that differ most (in order of frequency), cutting what
    # stands out and lifting what is missing
    residual = shape.residual(eq_magnitude(params, sr, model.freqs))
    inside = (shape.centres_hz >= PEAK_PLACE_HZ[0]) & (shape.centres_hz <= PEAK_PLACE_HZ[1])
    worst = sorted(np.argsort(-np.abs(np.where(inside, residual, 0.0)))[:len(_PEAKS)], key=lambda i: shape.centres_hz[i])
    aimed = start.copy()
    for j, i in enumerate(worst):
        aimed[2 + j] = float(np.clip(-residual[i], lows[2 + j], highs[2 + j]))
        aimed[5 + j] = math.log2(float(shape.centres_hz[i]))

    corners = np.log2([params["low_shelf_hz"], params["high_shelf_hz"]])

    def opposed(x) -> float:
        """How much the peaks work against the shelves: a bell inside a shelf's region (below the low shelf's
        corner, above the high shelf's, fading out over an octave) moving the other way (dB^2 products)."""
        inside_low = np.clip(corners[0] + 1.0 - x[5:], 0.0, 1.0)
        inside_high = np.clip(x[5:] - corners[1] + 1.0, 0.0, 1.0)
        return float(np.sum(inside_low * np.maximum(0.0, -x[0] * x[2:5]) ** 2
                            + inside_high * np.maximum(0.0, -x[1] * x[2:5]) ** 2))

    def cost(x) -> float:
        return (shape(magnitude(x)) ** 2 + _PLACE_MOVE_COST * float(np.sum(x[2:5] ** 2))
                + _MOVE_COST * float(np.sum((x[:2] - start[:2]) ** 2)) + _OPPOSED_COST * opposed(x))

    best, best_shape = None, before - _PLACE_GAIN_DB
    for x0 in (start, aimed):
        found = minimize(cost, x0, method="SLSQP", bounds=bounds, constraints=constraints,
                         options={"ftol": 1e-10, "eps": 1e-6, "maxiter": 300})
        p = written(found.x)
        ok = np.all(net_slack(p) >= 0.0) and np.all(np.abs(tone_errors(p)) <= keep)
        value = shape(eq_magnitude(p, sr, model.freqs))
        if ok and value < best_shape:
            best, best_shape = p, value
    return best


def octave_shape(freqs: np.ndarray, power: np.ndarray, reference_db: np.ndarray,
                 measured_db: np.ndarray | None = None):
    """``shape(h)``: the RMS over octave bands (dB) of the difference between the bus's long-term spectrum after
    an EQ of response ``h`` (at the group centres ``freqs``) and ``reference_db``, each relative to its own mean
    over the bands (loudness matching leaves the shape).

    ``power`` (per group) says what the EQ does to each octave: its level moves by the power-weighted mean of
    ``h^2`` over the octave's groups. Without ``measured_db`` the levels are ``power``'s own and an octave the
    analysis cannot see whole (above its Nyquist) is left out; with the bus's ``measured_db`` (measured as the
    reference is) each octave starts from its measured level, so the top octave, of which the analysis sees
    the lower part, is steered too, on the change the EQ makes to that part. Octaves holding no group are left
    out."""
    from automix.meters.spectral import ANALYSIS_RATE
    from automix.reference import OCTAVES_HZ

    centres = np.asarray(OCTAVES_HZ)
    members = ((freqs[None, :] >= centres[:, None] / np.sqrt(2)) & (freqs[None, :] < centres[:, None] * np.sqrt(2)))
    seen = (members.sum(axis=1) > 0) & (members @ power > 0)
    if measured_db is None:
        seen &= centres * np.sqrt(2) <= ANALYSIS_RATE / 2
        start = np.zeros(int(seen.sum()))
    else:
        seen &= np.isfinite(np.asarray(measured_db, dtype=np.float64))
    members = members[seen].astype(np.float64)
    if measured_db is not None:  # the EQ's change is relative to the bus as measured: h = 1 gives measured_db
        start = np.asarray(measured_db, dtype=np.float64)[seen] - 10.0 * np.log10(members @ power)
    want = np.asarray(reference_db, dtype=np.float64)[seen]
    want = want - want.mean()

    def residual(h: np.ndarray) -> np.ndarray:
        levels = start + 10.0 * np.log10(np.maximum(members @ (h * h * power), 1e-300))
        return levels - levels.mean() - want

    def shape(h: np.ndarray) -> float:
        return float(np.sqrt(np.mean(residual(h) ** 2)))

    shape.residual = residual  # per octave (dB, the bands seen): where the shapes differ, for placing peaks
    shape.centres_hz = centres[seen]
    return shape


def centroid_out_of_reach(info: dict, style: StyleTargets) -> bool:
    """Whether :func:`match_tone`'s ``info`` says no master EQ inside the envelope gets the centroid even to the
    edge of its tolerance (a trade-off against the band balance is not out of reach)."""
    r = info.get("reach")
    if not r:
        return False
    lowest, highest = r["centroid_range_hz"]
    target, tol = style.spectral_centroid_hz, style.tolerances.centroid_rel
    return target * (1 + tol) < lowest or target * (1 - tol) > highest


def _written(gains) -> np.ndarray:
    """``gains`` as the settings file writes them (0.01 dB, the EQ spec's resolution): the envelope is checked
    on what is rendered, so the bound is kept on these."""
    return np.array([round(float(g), GAIN_DECIMALS) for g in gains])


def _inside(gains: np.ndarray, net_slack) -> np.ndarray:
    """``gains`` scaled toward 0 dB just enough that the net response of the gains as written
    (:func:`_written`) is inside the envelope; unchanged when it already is. Bisection on the scale."""
    def ok(g):
        return bool(np.all(net_slack(_written(g)) >= 1e-6))

    if ok(gains) or not ok(np.zeros_like(gains)):  # the fixed sections alone out of the envelope: nothing to do
        return gains
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid * gains) else (lo, mid)
    return lo * gains


def reach(errors: ToneErrors, start: np.ndarray, bounds: list, constraints: Sequence = (),
          both: float | None = None, later: Callable[[Callable[[], None]], None] | None = None) -> dict:
    """How far the moved master EQ gains can take each tonal target alone, every other goal ignored.

    ``errors`` holds the model (the exact effect of the EQ on the frames, with its derivatives) and the
    targets; ``start`` (dB) is where the searches begin, ``bounds`` the gains' ranges and ``constraints``
    (scipy's dicts with their ``jac``, e.g. the envelope's net response) further limits, the same the match
    searched within. Returns ``centroid_range_hz`` [lowest, highest]; ``balance_best_error``, the smallest max
    |share - target| any setting gets; and for the band that best setting misses most, ``balance_limit``: how
    far that band's share alone can be pushed toward its target (``{"band": i, "share": s}``). A target outside
    these is one no master EQ setting inside the envelope reaches on this material, whatever the loss weights:
    the report says so.

    It also records ``both_best``: the smallest, over the settings inside the envelope, of the larger of the
    two errors in units of their tolerances (centroid in log ratio, balance as the max over bands). Above 1, no
    setting meets both targets at once, although each alone may be reachable: the material's own tilt puts
    them on opposite sides. ``both``: that value when the caller has already solved it (it is not solved again).

    ``later(fn)``: runs the balance half (everything but ``centroid_range_hz``, which the stems' shelves are
    decided on) now or on another thread while the caller goes on, filling the returned dict; the caller waits
    for it before reading those keys. Without it they are solved before returning.
    """
    model, target_balance = errors.model, errors.target_b

    def solve(measure):  # measure(c, b, dc, db) -> (value, gradient)
        def cost(g):
            return measure(*model.jacobian(g))

        if constraints:
            return minimize(cost, start, jac=True, method="SLSQP", bounds=bounds, constraints=list(constraints),
                            options={"ftol": 1e-12, "maxiter": 200}).x
        return minimize(cost, start, jac=True, method="L-BFGS-B", bounds=bounds,
                        options={"ftol": 1e-12, "maxiter": 200}).x

    def log_centroid(sign):
        return lambda c, b, dc, db: (sign * np.log(max(c, 1e-9)), sign * dc / max(c, 1e-9))

    lowest = model.predict(solve(log_centroid(1.0)))[0]
    highest = model.predict(solve(log_centroid(-1.0)))[0]
    out = {"centroid_range_hz": [round(float(lowest), 1), round(float(highest), 1)]}

    def balance():
        # sum of squares is smooth; the reported error is the max over bands, as the target's
        best = model.predict(solve(lambda c, b, dc, db: (float(np.sum((b - target_balance) ** 2)),
                                                          2.0 * (b - target_balance) @ db)))[1]
        band = int(np.argmax(np.abs(best - target_balance)))
        sign = 1.0 if best[band] < target_balance[band] else -1.0
        # in log: a band the material barely has holds shares of 1e-8, whose plain gradients stop the search at once
        limit = model.predict(solve(lambda c, b, dc, db: (-sign * np.log(max(float(b[band]), 1e-300)),
                                                          -sign * db[band] / max(float(b[band]), 1e-300))))[1][band]
        value = both if both is not None else both_best(errors, start, bounds, constraints)[0]
        out.update({"balance_best_error": round(float(np.max(np.abs(best - target_balance))), 4),
                    "balance_limit": {"band": band, "share": float(f"{limit:.4g}")},  # shares can be 1e-8
                    "both_best": round(value, 3)})

    if later is None:
        balance()
    else:
        later(balance)
    return out


def both_best(errors: ToneErrors, start, bounds, constraints) -> tuple[float, np.ndarray]:
    """``(value, gains)``: min over the gains of max(|centroid error|, |band errors|), each in units of its
    tolerance, and the gains that get it. The minimax in epigraph form (an extra variable ``s`` above every
    error), which SLSQP solves exactly where a plain max would leave it a kink. See :func:`reach`."""
    e0 = errors(start)
    x0 = np.append(start, np.max(np.abs(e0)))

    def above(x):  # s - e >= 0 and s + e >= 0
        e = errors(x[:-1])
        return np.concatenate([x[-1] - e, x[-1] + e])

    def above_jacobian(x):
        _, de = errors.with_jacobian(x[:-1])
        ones = np.ones((de.shape[0], 1))
        return np.block([[-de, ones], [de, ones]])

    cons = [{"type": "ineq", "fun": above, "jac": above_jacobian}]
    cons += [{"type": "ineq", "fun": (lambda x, f=c["fun"]: f(x[:-1])),
              "jac": (lambda x, j=c["jac"]: np.concatenate([j(x[:-1]), np.zeros((len(j(x[:-1])), 1))], axis=1))}
             for c in constraints]
    objective = np.zeros(x0.size)
    objective[-1] = 1.0
    x = minimize(lambda x: (x[-1], objective), x0, jac=True, method="SLSQP", bounds=list(bounds) + [(0.0, None)],
                 constraints=cons, options={"ftol": 1e-10, "maxiter": 200}).x
    # the solver's answer read back as what it is (a slightly infeasible step would understate it); the
    # solver meets its constraints to ~1e-12, which the caller's own margins (1e-6 on the net response) absorb
    g = np.clip(x[:-1], [b[0] for b in bounds], [b[1] for b in bounds])
    if constraints and any(np.min(c["fun"](g)) < -1e-9 for c in constraints):
        return float(np.max(np.abs(e0))), np.asarray(start, dtype=np.float64)
    value = float(np.max(np.abs(errors(g))))
    return (value, g) if value < np.max(np.abs(e0)) else (float(np.max(np.abs(e0))), np.asarray(start, np.float64))
