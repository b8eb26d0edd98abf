"""The trained predictor's forward pass in numpy: production settings without importing torch.

Importing torch costs 1-2.5 s of start-up, and the mixing path only ever runs the predictor forward, for one
session, with every stem real. This module is that forward pass (:class:`NumpyPredictor`) with everything it
calls, each a numpy twin of the torch code it mirrors:

- :func:`is_mono`, :func:`make_bounds`, :func:`bounded_stems`, :func:`bounded_master`: :mod:`automix.bounds`
  (the envelope's boxes and the EQ scale search);
- :func:`solve_master_width`, :func:`tone_cues` and the bus estimate they read: :mod:`automix.bus_estimate`;
- :class:`NumpyPredictor`: :meth:`automix.predictor.MixingParameterPredictor.forward`;
- :func:`predict_settings`, :func:`stems_mono`: :func:`automix.mixer.predict_settings` and
  :func:`automix.mixer.stems_mono`.

Precision follows the torch code: the network, the boxes and the master width run in float32 (as the
predictor's inputs are), the EQ-scale search and the tone estimate in float64 (where the torch code calls
``.double()``). Operations keep torch's order where it matters for round-off, so the outputs agree with the
torch model's to float32 round-off (``tests/test_inference.py`` measures it), not bit for bit: BLAS sums,
``erf`` and the other transcendentals are different implementations.

The weights are the same safetensors file the torch model loads, verified through the same manifest
(:func:`automix.weights.read_manifest`: sha256 and parameter layout) and read with ``safetensors.numpy``.

Constants: slot indices, EQ gain names, octave tables and band nesting are derived here from their sources
(:mod:`automix.layout`, the EQ plugin's specs, :mod:`automix.meters.spectral`, :mod:`automix.features`);
the tuning numbers (margins, solver settings, layer widths) come from :mod:`automix.predictor_tuning`, which
the torch modules read too.
Shapes drop the torch code's batch axis: one session, ``S`` stems, ``P = len(STEM_SLOTS)`` stem
parameters, ``M = len(MASTER_SLOTS)`` master parameters, ``F = len(INPUT_NAMES)`` features.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import erf

from automix.constants import REFERENCE_LUFS
from automix.dsp import JUCE_SHELF_Q, rbj_terms
from automix.envelope import Envelope, net_grid_hz
from automix.errors import WeightsError
from automix.features import (ENVELOPE_COLUMNS, ENVELOPE_LEVELS_DB, FEATURE_NAMES, INPUT_NAMES, OCTAVE_COLUMNS,
                              StemFeatures)
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten, unflatten
from automix.meters.spectral import BAND_EDGES_HZ, N_OCTAVES, OCTAVE_CENTRES_HZ, OCTAVE_EDGES_HZ
from automix.plugins.eq import PARAMS as EQ_PARAMS, _stages as eq_stages
from automix.predictor_tuning import (BISECTIONS, BOX_EPS, ENCODER_HIDDEN, EQ_MARGIN_DB, ESTIMATE_RATE, FD_STEP,  # noqa: F401
                                     HEAD_HIDDEN, LEVEL_MARGIN_DB, LOGIT_EPS, MAX_STEMS, MIR_FRAME,
                                     MIR_SAMPLE_RATE, N_ALPHAS, SOLVE_ITERATIONS, SOLVE_LOGIT_MAX, SOLVE_RIDGE,
                                     TONE_HIDDEN)
from automix.roles import ROLES
from automix.settings import MASTER_CHAIN, STEM_CHAIN, PluginSettings
from automix.styles import VECTOR_FIELDS, StyleTargets, from_normalized
from automix.weights import SHIPPED, read_manifest

# ----------------------------------------------------------------------------------------------------- constants


def _slot(layout, key: str) -> int:
    return next(i for i, s in enumerate(layout) if s.key == key)


STEM_GAIN = _slot(STEM_SLOTS, "gain.gain_db")
STEM_MAKEUP = _slot(STEM_SLOTS, "compressor.makeup_db")
STEM_TRIM = _slot(STEM_SLOTS, "saturation.trim_db")
STEM_PAN = _slot(STEM_SLOTS, "pan.pan")
STEM_WIDTH = _slot(STEM_SLOTS, "stereo_width.width")
STEM_DRIVE = _slot(STEM_SLOTS, "saturation.drive_db")
STEM_THRESHOLD = _slot(STEM_SLOTS, "compressor.threshold_db")
STEM_RATIO = _slot(STEM_SLOTS, "compressor.ratio")
#: the slots whose dB sum is a strip's level (fader, compressor makeup, saturation trim)
STEM_LEVEL_DB = (STEM_GAIN, STEM_MAKEUP, STEM_TRIM)
MASTER_WIDTH = _slot(MASTER_SLOTS, "stereo_width.width")
MASTER_THRESHOLD = _slot(MASTER_SLOTS, "compressor.threshold_db")
MASTER_RATIO = _slot(MASTER_SLOTS, "compressor.ratio")
#: EQ parameter name -> slot, in layout order (every EQ parameter: high-pass, frequencies, Qs, gains)
STEM_EQ = {s.spec.name: i for i, s in enumerate(STEM_SLOTS) if s.plugin == "eq"}
MASTER_EQ = {s.spec.name: i for i, s in enumerate(MASTER_SLOTS) if s.plugin == "eq"}
#: the EQ's shelf and peak gains in section order (low shelf, peaks 1-3, high shelf), from the plugin's specs
EQ_GAIN_NAMES = tuple(p.name for p in EQ_PARAMS if p.name.endswith("_gain_db"))
EQ_SHELF = tuple("shelf" in name for name in EQ_GAIN_NAMES)
#: the master EQ gains the tone solve moves (slots), and where each sits among the master EQ slots
MASTER_TONE_GAINS = tuple(MASTER_EQ[name] for name in EQ_GAIN_NAMES)
_TONE_GAIN_AT = tuple(list(MASTER_EQ.values()).index(j) for j in MASTER_TONE_GAINS)

#: feature columns read here (the normalised vector of :meth:`automix.features.StemFeatures.vector`)
_RMS_COLUMN = FEATURE_NAMES.index("rms_rel_db")            # rms_rel_db / 10
_CENTROID_COLUMN = FEATURE_NAMES.index("spectral_centroid_hz")  # log2(centroid / 1 kHz) / 3
_MS_COLUMN = FEATURE_NAMES.index("ms_ratio")               # side share r^2 / (1 + r^2)
_LR_COLUMN = FEATURE_NAMES.index("lr_balance")
_OCTAVE_COLUMNS = list(OCTAVE_COLUMNS)
_ENVELOPE_COLUMNS = list(ENVELOPE_COLUMNS)

#: what the tone head reads besides the style: 3 band cues, the centroid cue, 3 band cues after the solve,
#: the 5 solved moves, 10 octave shares (bus_estimate.N_TONE_CUES)
N_TONE_CUES = 3 + 1 + 3 + len(MASTER_TONE_GAINS) + N_OCTAVES


def _torch_linspace(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace`` bit for bit (float64): the first half counts up from ``start``, the second half
    down from ``end`` (``np.linspace`` differs in the last bit, which would move the bisection's points)."""
    step = (end - start) / (steps - 1)
    i = np.arange(steps)
    return np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i)).astype(np.float64)


#: candidate EQ scales, largest first
_ALPHAS = _torch_linspace(1.0, 0.0, N_ALPHAS)


def _octave_bins() -> tuple[np.ndarray, np.ndarray]:
    """Per octave band: the number of the band meter's STFT bins in it and the share of it the meter sees
    (below Nyquist of :data:`MIR_SAMPLE_RATE`). Shape: two ``(N_OCTAVES,)`` float64."""
    nyquist = MIR_SAMPLE_RATE / 2.0
    edges = (0.0,) + OCTAVE_EDGES_HZ + (2 * OCTAVE_EDGES_HZ[-1],)
    seen = [max(0.0, min(hi, nyquist) - lo) for lo, hi in zip(edges[:-1], edges[1:])]
    share = [v / (hi - lo) for v, lo, hi in zip(seen, edges[:-1], edges[1:])]
    return np.array(seen, dtype=np.float64) / (MIR_SAMPLE_RATE / MIR_FRAME), np.array(share, dtype=np.float64)


_OCTAVE_BINS, _OCTAVE_SEEN = _octave_bins()
#: which band (low, mid, high) each octave nests in, ``(N_OCTAVES, 3)`` indicator: an octave belongs to the
#: band of its lower edge (the octave edges include the band edges, so none straddles two bands)
_OCTAVE_LOWER_EDGES = (0.0,) + OCTAVE_EDGES_HZ
_OCTAVE_BANDS = np.eye(len(BAND_EDGES_HZ) + 1)[np.searchsorted(BAND_EDGES_HZ, _OCTAVE_LOWER_EDGES, side="right")]


# -------------------------------------------------------------------------------------------- small numerics

def _from_unit(spec, u: np.ndarray) -> np.ndarray:
    """:meth:`ParamSpec.from_unit` on arrays, in the tensor branch's operation order (dtype kept)."""
    if spec.scale == "log":
        lo, hi = math.log(spec.minimum), math.log(spec.maximum)
        return np.exp(u * (hi - lo) + lo)
    if spec.scale == "bool":
        return (u > 0.5).astype(u.dtype)
    return spec.minimum + u * (spec.maximum - spec.minimum)


def _to_unit(spec, value: np.ndarray) -> np.ndarray:
    """:meth:`ParamSpec.to_unit` on arrays, in the tensor branch's operation order (dtype kept)."""
    if spec.scale == "log":
        lo, hi = math.log(spec.minimum), math.log(spec.maximum)
        return (np.log(value) - lo) / (hi - lo)
    if spec.scale == "bool":
        return 0.25 + 0.5 * value
    span = spec.maximum - spec.minimum
    return (value - spec.minimum) / span if span else value * 0.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0, and 1 / inf is the 0 torch gives
        return 1.0 / (1.0 + np.exp(-x))


def _logit(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, LOGIT_EPS, 1 - LOGIT_EPS)
    return np.log(u) - np.log1p(-u)


def _gelu(x: np.ndarray) -> np.ndarray:
    """``nn.GELU()`` (the exact erf form) in torch's operation order; scipy's float32 ``erf`` matches torch's
    float32 kernel bit for bit more often than a float64 ``erf`` rounded to float32 does."""
    return x * np.float32(0.5) * (np.float32(1.0) + erf(x * np.float32(math.sqrt(0.5))))


def in_box(prior: np.ndarray, residual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``lo + (hi - lo) sigmoid(logit(place of prior in the box) + residual)``, in the prior's dtype
    (:func:`automix.bounds.in_box`). Shapes broadcast."""
    lo, hi = np.asarray(lo, dtype=prior.dtype), np.asarray(hi, dtype=prior.dtype)
    span = hi - lo
    place = (np.clip(prior, lo, hi) - lo) / np.where(span > BOX_EPS, span, np.ones_like(span))
    return lo + span * _sigmoid(_logit(place) + residual)


# ---------------------------------------------------------------------------------------------- EQ responses

def _iir_sections(kind: str, sample_rate: float, f: np.ndarray, q, g: np.ndarray) -> np.ndarray:
    """:func:`automix.dsp.juce_iir_torch` in float64 numpy: ``[b0, b1, b2, a1, a2]`` normalised by ``a0``.

    Shape: ``f``, ``q``, ``g`` ``(N,)`` (Hz, Q, dB) -> ``(N, 5)``.
    """
    fs = float(sample_rate)
    if kind == "highpass1":
        n = np.tan(math.pi * f / fs)
        zero = np.zeros_like(n)
        return np.stack([1.0 / (n + 1.0), -1.0 / (n + 1.0), zero, (n - 1.0) / (n + 1.0), zero], axis=-1)
    a_lin = np.power(10.0, g / 40.0)  # sqrt(10^(dB/20))
    f = np.maximum(np.clip(f, 0.01, fs / 2.0 - 100.0), 2.0)
    omega = 2.0 * math.pi * f / fs
    b0, b1, b2, a0, a1, a2 = rbj_terms(kind, np.sin(omega), np.cos(omega), a_lin, np.sqrt(a_lin), q)
    return np.stack([b0, b1, b2, a1, a2], axis=-1) / a0[..., None]


def eq_sections(sample_rate: float, params: dict) -> np.ndarray:
    """The EQ's seven sections, float64 design (:func:`automix.plugins.eq.eq_sections` with ``exact_f32=False``).

    ``params``: every EQ parameter in engineering units, float64 ``(N,)``. Shape: -> ``(N, 7, 5)``.
    """
    p = dict(params)
    p["highpass_hz"] = np.clip(p["highpass_hz"], 0.01, sample_rate / 2.0 - 100.0)  # as both engines clamp it
    sections = []
    for kind, f, q, g in eq_stages(p):  # the plugin's own section order
        if q is None:  # the first-order high-passes
            q, g = JUCE_SHELF_Q, np.zeros_like(f)
        sections.append(_iir_sections(kind, sample_rate, f, q, g))
    return np.stack(sections, axis=1)


def eq_sos(eq_params, sample_rate: float, highpass: bool = True) -> np.ndarray:
    """One EQ's float64 design as scipy ``sos`` rows ``[b0 b1 b2 1 a1 a2]``: seven, or five without the two
    high-pass stages. ``eq_params``: every EQ parameter, in engineering units."""
    sections = eq_sections(float(sample_rate), {k: np.array([float(v)]) for k, v in eq_params.items()})[0]
    s = sections if highpass else sections[2:]
    return np.concatenate([s[:, :3], np.ones((s.shape[0], 1)), s[:, 3:]], axis=1)


def _response_terms(freqs_hz, sample_rate: float) -> tuple[np.ndarray, ...]:
    w = 2 * math.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate
    return np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)


def _num_den(sections: np.ndarray, freqs_hz, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``|numerator|^2`` and ``|denominator|^2`` of sections ``(..., 5)`` at ``freqs_hz`` ``(K,)`` -> ``(..., K)``."""
    c1, s1, c2, s2 = _response_terms(freqs_hz, sample_rate)
    b0, b1, b2, a1, a2 = (sections[..., k, None] for k in range(5))
    num = (b0 + b1 * c1 + b2 * c2) ** 2 + (b1 * s1 + b2 * s2) ** 2
    den = (1 + a1 * c1 + a2 * c2) ** 2 + (a1 * s1 + a2 * s2) ** 2
    return num, den


def section_db(sections: np.ndarray, freqs_hz, sample_rate: float) -> np.ndarray:
    """dB response of each section (:func:`automix.bounds.section_db`). Shape: ``(..., 5)`` -> ``(..., K)``."""
    num, den = _num_den(sections, freqs_hz, sample_rate)
    return 10.0 * np.log10(np.maximum(num, 1e-30) / np.maximum(den, 1e-30))


def eq_net_and_fight(params: dict, grid_hz, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Net response of the shelves and peaks (dB ``(N, K)``) and their fighting (dB ``(N,)``: the sum of the
    sections' absolute gains minus the net response's range on the grid) (:func:`automix.bounds.eq_net_and_fight`).

    ``params``: every EQ parameter, float64 ``(N,)``; ``grid_hz`` ``(K,)``.
    """
    net = section_db(eq_sections(sample_rate, params)[:, 2:], grid_hz, sample_rate).sum(axis=-2)  # no high-pass
    total = sum(np.abs(params[name]) for name in EQ_GAIN_NAMES)
    return net, total - (net.max(axis=-1) - net.min(axis=-1))


def _eq_power(params: dict, freqs_hz) -> np.ndarray:
    """Power gain ``|H|^2`` of whole EQs (all seven sections, designed at :data:`ESTIMATE_RATE`) at
    ``freqs_hz`` (:func:`automix.bus_estimate._eq_power`). Shape: params ``(N,)`` -> ``(N, K)``."""
    num, den = _num_den(eq_sections(ESTIMATE_RATE, params), freqs_hz, ESTIMATE_RATE)
    return (num / den).prod(axis=-2)


def _eq_params(units: np.ndarray, layout, eq: dict) -> dict:
    """The EQ slots of ``units`` ``(N, P)`` as engineering-unit float64 arrays ``(N,)``, keyed by name."""
    flat = units.astype(np.float64)
    return {name: _from_unit(layout[j].spec, flat[:, j]) for name, j in eq.items()}


# -------------------------------------------------------------------------------------------- envelope boxes

def is_mono(features: np.ndarray, envelope: Envelope) -> np.ndarray:
    """True for stems whose side is ``envelope.mono_side_floor_db`` or more below their mid
    (:func:`automix.bounds.is_mono`). Shape: normalised features ``(..., F)`` -> ``(...)`` bool.

    The threshold is rounded to the features' dtype first, as torch compares a tensor with a Python float.
    """
    features = np.asarray(features)
    r2 = 10.0 ** (envelope.mono_side_floor_db / 10.0)
    return features[..., _MS_COLUMN] <= np.asarray(r2 / (1.0 + r2), dtype=features.dtype)


def stems_mono(features: Sequence[StemFeatures], envelope: Envelope) -> list[bool]:
    """Which stems have no side signal (:func:`automix.mixer.stems_mono`): their width stays 1 and, as lone
    parts of an off-centre role, they are panned."""
    return is_mono(np.stack([f.vector() for f in features]), envelope).tolist()


@dataclass
class Bounds:
    """The envelope's boxes for one session (:class:`automix.bounds.Bounds` without the batch axis).

    Shape: ``stem_lo``/``stem_hi`` ``(S, P)`` and ``master_lo``/``master_hi`` ``(M,)`` unit values (float64);
    ``level_lo_db``/``level_hi_db`` ``(S,)`` the stem level's box (dB, fader + makeup + trim);
    ``stem_net_db`` (min, max) and ``master_net_db`` (+-) the EQ net response limits and ``stem_fight_db``
    the stem EQ's fighting limit (dB); ``grid_hz`` ``(K,)`` where the net response is read, at ``sample_rate``.
    """

    stem_lo: np.ndarray
    stem_hi: np.ndarray
    level_lo_db: np.ndarray
    level_hi_db: np.ndarray
    master_lo: np.ndarray
    master_hi: np.ndarray
    stem_net_db: tuple[float, float]
    stem_fight_db: float
    master_net_db: float
    grid_hz: np.ndarray
    sample_rate: float = 48000.0


def _unit(layout, j: int, value: float) -> float:
    """``value`` (engineering units, clamped to the spec's range) as a unit value in [0, 1]."""
    spec = layout[j].spec
    return float(min(max(spec.to_unit(min(max(value, spec.minimum), spec.maximum)), 0.0), 1.0))


def _eq_boxes(layout, eq: dict, lo: np.ndarray, hi: np.ndarray, peak: tuple[float, float], shelf: float) -> None:
    for name, is_shelf in zip(EQ_GAIN_NAMES, EQ_SHELF):
        a, b = (-shelf, shelf) if is_shelf else peak
        j = eq[name]
        lo[..., j] = _unit(layout, j, a)
        hi[..., j] = _unit(layout, j, b)


def make_bounds(envelope: Envelope, mono: np.ndarray, stem_prior: np.ndarray,
                sample_rate: float = 48000.0) -> Bounds:
    """The boxes for one session (:func:`automix.bounds.make_bounds` for a batch of one).

    Args:
        envelope: the style's envelope.
        mono: ``(S,)`` bool, stems with no side signal (:func:`is_mono`): their width stays 1.
        stem_prior: the priors as unit values ``(S, P)``: they carry the role levels and pans the boxes are
            centred on.
        sample_rate: rate the EQ responses are read at (the session's when known).
    """
    env = envelope
    mono = np.asarray(mono, dtype=bool)
    s, p = stem_prior.shape
    stem_lo = np.zeros((s, p), dtype=np.float64)
    stem_hi = np.ones((s, p), dtype=np.float64)
    master_lo = np.zeros(len(MASTER_SLOTS), dtype=np.float64)
    master_hi = np.ones(len(MASTER_SLOTS), dtype=np.float64)
    level = _from_unit(STEM_SLOTS[STEM_GAIN].spec, stem_prior[:, STEM_GAIN].astype(np.float64))
    range_db = env.stem_level_range_db - LEVEL_MARGIN_DB
    _eq_boxes(STEM_SLOTS, STEM_EQ, stem_lo, stem_hi, (env.stem_eq_cut_min_db, env.stem_eq_boost_max_db),
              env.stem_shelf_max_abs_db)
    stem_hi[:, STEM_DRIVE] = _unit(STEM_SLOTS, STEM_DRIVE, env.stem_drive_max_db)
    stem_lo[:, STEM_THRESHOLD] = _unit(STEM_SLOTS, STEM_THRESHOLD, env.stem_comp_threshold_min_db)
    stem_hi[:, STEM_RATIO] = _unit(STEM_SLOTS, STEM_RATIO, env.stem_comp_ratio_max)
    stem_hi[:, STEM_WIDTH] = np.where(mono, _unit(STEM_SLOTS, STEM_WIDTH, 1.0),
                                      _unit(STEM_SLOTS, STEM_WIDTH, env.stem_width_max))
    stem_lo[:, STEM_WIDTH] = np.where(mono, _unit(STEM_SLOTS, STEM_WIDTH, 1.0), 0.0)
    # the stereo image is the role pans' (centred roles, mirrored pairs): the prior is the box
    stem_lo[:, STEM_PAN] = stem_prior[:, STEM_PAN]
    stem_hi[:, STEM_PAN] = stem_prior[:, STEM_PAN]
    _eq_boxes(MASTER_SLOTS, MASTER_EQ, master_lo, master_hi,
              (-env.master_peak_max_abs_db, env.master_peak_max_abs_db), env.master_shelf_max_abs_db)
    master_lo[MASTER_WIDTH] = _unit(MASTER_SLOTS, MASTER_WIDTH, env.master_width_min)
    master_hi[MASTER_WIDTH] = _unit(MASTER_SLOTS, MASTER_WIDTH, env.master_width_max)
    master_lo[MASTER_THRESHOLD] = _unit(MASTER_SLOTS, MASTER_THRESHOLD, env.master_comp_threshold_min_db)
    master_hi[MASTER_RATIO] = _unit(MASTER_SLOTS, MASTER_RATIO, env.master_comp_ratio_max)
    return Bounds(
        stem_lo=stem_lo, stem_hi=stem_hi, level_lo_db=level - range_db, level_hi_db=level + range_db,
        master_lo=master_lo, master_hi=master_hi,
        stem_net_db=(env.stem_eq_net_min_db + EQ_MARGIN_DB, env.stem_eq_net_max_db - EQ_MARGIN_DB),
        stem_fight_db=env.stem_eq_fight_max_db - EQ_MARGIN_DB,
        master_net_db=env.master_eq_net_max_abs_db - EQ_MARGIN_DB,
        grid_hz=np.asarray(net_grid_hz(env), dtype=np.float64), sample_rate=float(sample_rate))


def _inside(params: dict, alphas: np.ndarray, bounds: Bounds, net_lo: float, net_hi: float,
            fight_max: float | None) -> np.ndarray:
    """Whether each EQ (params ``(N,)``) with its gains scaled by each of ``alphas`` ``(N, K)`` keeps its net
    response (shelves and peaks, the high-pass left out) within ``[net_lo, net_hi]`` dB on the grid and its
    fighting (sum of the sections' absolute gains minus the net range) at most ``fight_max``. -> ``(N, K)``."""
    n, k = alphas.shape
    trial = {name: np.repeat(v, k) for name, v in params.items()}
    for name in EQ_GAIN_NAMES:
        trial[name] = trial[name] * alphas.reshape(-1)
    net, fight = eq_net_and_fight(trial, bounds.grid_hz, bounds.sample_rate)
    ok = (net.min(axis=-1) >= net_lo) & (net.max(axis=-1) <= net_hi)
    if fight_max is not None:
        ok &= fight <= fight_max
    return ok.reshape(n, k)


def eq_scale(params: dict, bounds: Bounds, net_lo: float, net_hi: float, fight_max: float | None) -> np.ndarray:
    """The largest ``alpha`` in [0, 1] with every gain scaled by it inside the net/fight limits
    (:func:`automix.bounds.eq_scale`): the grid's first passing scale, then bisection toward the failing one
    above it. Shape: params ``(N,)`` each -> ``(N,)`` float64."""
    n = next(iter(params.values())).shape[0]
    ok = _inside(params, np.tile(_ALPHAS, (n, 1)), bounds, net_lo, net_hi, fight_max)
    ok[:, -1] = True  # alpha 0: a flat EQ
    first = ok.argmax(axis=-1)  # the first (largest) alpha that passes
    lo = _ALPHAS[first]
    hi = np.where(first > 0, _ALPHAS[np.maximum(first - 1, 0)], lo)
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        passed = _inside(params, mid[:, None], bounds, net_lo, net_hi, fight_max)[:, 0]
        lo, hi = np.where(passed, mid, lo), np.where(passed, hi, mid)
    return lo


def _scaled_eq(u: np.ndarray, layout, eq: dict, bounds: Bounds, net_lo: float, net_hi: float,
               fight_max: float | None) -> np.ndarray:
    """``u`` ``(N, P)`` with its EQ gains scaled into the net/fight limits (``u``'s dtype)."""
    alpha = eq_scale(_eq_params(u, layout, eq), bounds, net_lo, net_hi, fight_max).astype(u.dtype)
    out = u.copy()
    for name in EQ_GAIN_NAMES:
        j = eq[name]
        spec = layout[j].spec
        out[:, j] = _to_unit(spec, _from_unit(spec, u[:, j]) * alpha)
    return out


def bounded_stems(prior: np.ndarray, residual: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Stem settings (units ``(S, P)``, the prior's dtype) inside the envelope from the prior units and the
    residual logits (:func:`automix.bounds.bounded_stems`, every stem real)."""
    u = in_box(prior, residual, bounds.stem_lo, bounds.stem_hi)
    # the fader's box follows from the level's, given the makeup and trim just chosen
    spec = STEM_SLOTS[STEM_GAIN].spec
    rest = (_from_unit(STEM_SLOTS[STEM_MAKEUP].spec, u[:, STEM_MAKEUP])
            + _from_unit(STEM_SLOTS[STEM_TRIM].spec, u[:, STEM_TRIM]))
    lo = _to_unit(spec, np.clip(bounds.level_lo_db.astype(u.dtype) - rest, spec.minimum, spec.maximum))
    hi = _to_unit(spec, np.clip(bounds.level_hi_db.astype(u.dtype) - rest, spec.minimum, spec.maximum))
    u[:, STEM_GAIN] = in_box(prior[:, STEM_GAIN], residual[:, STEM_GAIN], lo, hi)
    net_lo, net_hi = bounds.stem_net_db
    return _scaled_eq(u, STEM_SLOTS, STEM_EQ, bounds, net_lo, net_hi, bounds.stem_fight_db)


def bounded_master(prior: np.ndarray, residual: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Master settings (units ``(M,)``, the prior's dtype) inside the envelope from the prior units and the
    residual logits (:func:`automix.bounds.bounded_master`)."""
    u = in_box(prior, residual, bounds.master_lo, bounds.master_hi)
    return _scaled_eq(u[None], MASTER_SLOTS, MASTER_EQ, bounds, -bounds.master_net_db, bounds.master_net_db,
                      None)[0]


# -------------------------------------------------------------------------------------------- bus estimate

def stereo_energies(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(E_L, E_R, E_LR)`` of each stem normalised to its loudness (:func:`automix.features.stereo_energies`).

    Shape: ``(S, F)`` -> three ``(S,)`` in the features' dtype.
    """
    e = np.power(10.0, features[:, _RMS_COLUMN])  # rms_rel_db / 10
    q = features[:, _MS_COLUMN]
    b = features[:, _LR_COLUMN]
    e_m, e_s = e * (1 - q), e * q
    return e * (1 - b), e * (1 + b), e_m - e_s


def strip_energies(features: np.ndarray, stem_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Four times the mid and side mean squares of each strip's output (loudness-normalised stem through its
    level, pan and width), in units of the stem's loudness (:func:`automix.bus_estimate.strip_energies`).

    Shape: ``(S, F)``, ``(S, P)`` -> two ``(S,)``, in the inputs' dtype.
    """
    e_l, e_r, e_lr = stereo_energies(features)
    a, b, c = (_from_unit(STEM_SLOTS[j].spec, stem_u[:, j]) for j in STEM_LEVEL_DB)
    g = np.power(10.0, (a + b + c) / 10.0)
    theta = (_from_unit(STEM_SLOTS[STEM_PAN].spec, stem_u[:, STEM_PAN]) + 1.0) * (math.pi / 4.0)
    cos, sin = np.cos(theta), np.sin(theta)
    gl2, gr2, glr = 2 * cos ** 2, 2 * sin ** 2, 2 * cos * sin
    w = _from_unit(STEM_SLOTS[STEM_WIDTH].spec, stem_u[:, STEM_WIDTH])
    direct = gl2 * e_l + gr2 * e_r
    return g * (direct + 2 * glr * e_lr), g * w * w * (direct - 2 * glr * e_lr)


def solve_master_width(features: np.ndarray, stem_u: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Master width (engineering units, clipped to its range) that brings the estimated bus
    ``RMS(S) / RMS(M)`` to the style's (:func:`automix.bus_estimate.solve_master_width`).

    Shape: features ``(S, F)``, stem_u ``(S, P)``, normalised style ``(T,)`` -> ``()`` in their dtype.
    """
    spec = MASTER_SLOTS[MASTER_WIDTH].spec
    target = from_normalized("stereo_ms_ratio", style[VECTOR_FIELDS.index("stereo_ms_ratio")])
    mid, side = (e.sum(axis=-1) for e in strip_energies(features, stem_u))
    ratio = np.sqrt(np.maximum(side, 0.0) / np.maximum(mid, 1e-12))
    return np.clip(target / np.maximum(ratio, target / spec.maximum + 1e-6), spec.minimum, spec.maximum)


def compressor_power_gain(features: np.ndarray, stem_u: np.ndarray, eq_power_gain: np.ndarray) -> np.ndarray:
    """How much each strip's compressor turns its stem's power down (<= 1), the static model of
    :func:`automix.bus_estimate.compressor_power_gain`: each envelope level bin above the threshold (the stem
    entering at :data:`~automix.constants.REFERENCE_LUFS` times its EQ's power gain) loses
    ``(1 - 1/ratio)`` of its excess. Shape: ``(S, F)``, ``(S, P)``, ``(S,)`` -> ``(S,)`` float64.
    """
    u = stem_u.astype(np.float64)
    threshold = _from_unit(STEM_SLOTS[STEM_THRESHOLD].spec, u[:, STEM_THRESHOLD])
    slope = 1.0 / _from_unit(STEM_SLOTS[STEM_RATIO].spec, u[:, STEM_RATIO]) - 1.0  # <= 0
    level = (np.array(ENVELOPE_LEVELS_DB, dtype=np.float64) + REFERENCE_LUFS
             + 10.0 * np.log10(np.maximum(eq_power_gain, 1e-12))[:, None])  # (S, bins) dBFS
    reduction_db = slope[:, None] * np.maximum(level - threshold[:, None], 0.0)
    weights = np.maximum(features.astype(np.float64)[:, _ENVELOPE_COLUMNS], 0.0)
    total = weights.sum(axis=-1)
    gain = (weights * np.power(10.0, reduction_db / 10.0)).sum(axis=-1) / np.maximum(total, 1e-12)
    return np.where(total > 0, gain, np.ones_like(gain))


def strip_octave_power(features: np.ndarray, stem_u: np.ndarray) -> np.ndarray:
    """Each strip's mid power per octave band: octave shares x mid energy x its EQ's power gain at the
    octave's centre x its compressor's power gain (:func:`automix.bus_estimate.strip_octave_power`).

    Shape: ``(S, F)``, ``(S, P)`` -> ``(S, N_OCTAVES)`` float64.
    """
    mid, _ = strip_energies(features.astype(np.float64), stem_u.astype(np.float64))
    shares = np.maximum(features.astype(np.float64)[:, _OCTAVE_COLUMNS], 0.0)
    eq = shares * _eq_power(_eq_params(stem_u, STEM_SLOTS, STEM_EQ), OCTAVE_CENTRES_HZ)
    mid = mid * compressor_power_gain(features, stem_u, eq.sum(axis=-1))
    return mid[:, None] * eq


def _band_shares(octave_power: np.ndarray) -> np.ndarray:
    """Octave powers ``(..., 10)`` -> low/mid/high shares of the band meter's magnitude spectrum ``(..., 3)``.

    A band of ``N`` STFT bins holding power ``P`` spread evenly has ``sum |X| = sqrt(N P)``; only the part of
    an octave the meter sees (below its Nyquist) counts, pro rata.
    """
    magnitudes = np.sqrt(np.maximum(octave_power, 0.0) * _OCTAVE_SEEN * _OCTAVE_BINS)
    bands = magnitudes @ _OCTAVE_BANDS
    return bands / np.maximum(bands.sum(axis=-1, keepdims=True), 1e-300)


def master_band_shares(bus_octaves: np.ndarray, master_u: np.ndarray) -> np.ndarray:
    """Band shares of estimated buses (octave powers ``(N, 10)``) after the master EQs of ``master_u``
    ``(N, M)``. Shape: -> ``(N, 3)`` float64."""
    return _band_shares(bus_octaves * _eq_power(_eq_params(master_u, MASTER_SLOTS, MASTER_EQ), OCTAVE_CENTRES_HZ))


def solve_master_tone(bus_octaves: np.ndarray, master_u: np.ndarray, want: np.ndarray,
                      box: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Master EQ gain moves (logits in ``box``) that bring the estimated bus's band shares to ``want``
    (:func:`automix.bus_estimate.solve_master_tone`): damped Gauss-Newton on the five gains' logits,
    minimising ``|shares - want|^2 + ridge |move|^2``, the Jacobian by forward differences.

    Shape: bus_octaves ``(10,)``, master_u ``(M,)``, want ``(3,)``, box two ``(5,)`` unit values -> ``(5,)``
    float64.
    """
    base = master_u.astype(np.float64)
    gains = list(MASTER_TONE_GAINS)
    lo, hi = (np.asarray(b, dtype=np.float64) for b in box)
    span = np.maximum(hi - lo, 1e-9)
    z0 = _logit((np.clip(base[gains], lo, hi) - lo) / span)
    z = z0.copy()
    k = z.shape[0]
    steps = np.concatenate([np.zeros((1, k)), FD_STEP * np.eye(k)])  # the point and one step per gain
    eye = SOLVE_RIDGE * np.eye(k)
    buses = np.tile(bus_octaves.astype(np.float64), (k + 1, 1))
    for _ in range(SOLVE_ITERATIONS):
        u = np.tile(base, (k + 1, 1))
        u[:, gains] = lo + span * _sigmoid(z + steps)
        s = master_band_shares(buses, u)  # (k + 1, 3)
        r = s[0] - want
        jac = ((s[1:] - s[:1]) / FD_STEP).T  # (3, k)
        # ridge on the distance from the start, so iterating does not walk away from the prior
        rhs = -(jac.T @ r) - SOLVE_RIDGE * (z - z0)
        z = np.clip(z + np.linalg.solve(jac.T @ jac + eye, rhs), -SOLVE_LOGIT_MAX, SOLVE_LOGIT_MAX)
    return np.nan_to_num(z - z0)


def tone_cues(features: np.ndarray, stem_u: np.ndarray, master_u: np.ndarray, style: np.ndarray,
              box: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """What the tone head reads, and the solved master EQ gain moves (:func:`automix.bus_estimate.tone_cues`).

    Cues, against the style: ``log(share / style share)`` per band of the estimated bus (3); ``log2`` of
    the estimated centroid over the style's (1); the band cues after the master EQ with the solved moves (3);
    the moves (logits, 5); the bus's octave shares as ``log(10 x share)`` (10).
    Shape: features ``(S, F)``, stem_u ``(S, P)``, master_u ``(M,)`` (before the tone), normalised style
    ``(T,)``, box two ``(5,)`` -> cues ``(N_TONE_CUES,)``, moves ``(5,)``, both in the style's dtype.
    """
    power = strip_octave_power(features, stem_u)  # the strip EQ designs, once for all cues
    bus = power.sum(axis=-2)
    low = VECTOR_FIELDS.index("balance_low")
    want = np.maximum(style[low:low + 3].astype(np.float64), 1e-4)
    move = solve_master_tone(bus, master_u, want, box)
    solved = master_u.astype(np.float64)
    gains = list(MASTER_TONE_GAINS)
    solved[gains] = in_box(solved[gains], move, box[0], box[1])
    after = master_band_shares(bus[None], solved[None])[0]
    idx = VECTOR_FIELDS.index("spectral_centroid_hz")
    centroid = from_normalized("spectral_centroid_hz", style[idx:idx + 1])  # in the style's dtype, as in torch
    # the stems' centroids (octaves re 1 kHz) weighted by their strips' power
    weight = power.sum(axis=-1)
    octaves = features.astype(np.float64)[:, _CENTROID_COLUMN] * 3.0  # see StemFeatures.vector
    centroid_octaves = (weight * octaves).sum() / max(weight.sum(), 1e-12)
    octave_cue = centroid_octaves - np.log2(centroid.astype(np.float64) / 1000.0)
    octave_shares = bus / max(bus.sum(), 1e-300)
    cues = np.concatenate([np.log(np.maximum(_band_shares(bus), 1e-4) / want), octave_cue,
                           np.log(np.maximum(after, 1e-4) / want), move,
                           np.log(np.maximum(N_OCTAVES * octave_shares, 1e-4))])
    return cues.astype(style.dtype), move.astype(style.dtype)


# -------------------------------------------------------------------------------------------- the network

def _architecture(hidden: tuple[int, int, int], head: int, tone: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of a :class:`~automix.predictor.MixingParameterPredictor` state dict and its shape."""
    n_in = len(FEATURE_NAMES) + len(ROLES) + len(VECTOR_FIELDS)
    h1, h2, h3 = hidden
    t = len(VECTOR_FIELDS)
    layers = {"encoder.0": (h1, n_in), "encoder.2": (h2, h1), "encoder.4": (h3, h2),
              "stem_head.0": (head, 3 * h3 + t), "stem_head.2": (len(STEM_SLOTS), head),
              "master_head.0": (head, 2 * h3 + t), "master_head.2": (len(MASTER_SLOTS), head),
              "tone_head.mlp.0": (tone, t + N_TONE_CUES), "tone_head.mlp.2": (tone, tone),
              "tone_head.mlp.4": (len(MASTER_EQ), tone)}
    shapes = {}
    for name, (out, inp) in layers.items():
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (out, inp), (out,)
    shapes["tone_head.solve_weight"] = (len(MASTER_TONE_GAINS),)
    return shapes


class NumpyPredictor:
    """:class:`automix.predictor.MixingParameterPredictor`'s forward pass for one session, in numpy.

    Args:
        state: the torch model's state dict as float32 numpy arrays (``safetensors.numpy.load_file`` of a
            weights file, or ``{k: v.numpy() for k, v in model.state_dict().items()}``). The layer widths
            are read from it; tensors that do not fit the architecture raise :class:`WeightsError`.
    """

    def __init__(self, state: dict[str, np.ndarray]):
        try:
            hidden = tuple(int(state[f"encoder.{i}.weight"].shape[0]) for i in (0, 2, 4))
            head = int(state["stem_head.0.weight"].shape[0])
            tone = int(state["tone_head.mlp.0.weight"].shape[0])
        except (KeyError, AttributeError, IndexError):
            raise WeightsError("tensors do not fit this predictor (encoder or heads missing); retrain with "
                               "`automix train`") from None
        expected = _architecture(hidden, head, tone)
        if set(state) != set(expected) or any(tuple(state[k].shape) != v for k, v in expected.items()):
            raise WeightsError("tensors do not fit this predictor; retrain with `automix train`")
        self.w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}

    @classmethod
    def load(cls, path: str | os.PathLike = SHIPPED) -> "NumpyPredictor":
        """Verified weights (:func:`automix.weights.read_manifest`: sha256 and layout) read without torch."""
        from safetensors.numpy import load_file

        read_manifest(path)
        try:
            return cls(load_file(str(path)))
        except WeightsError as e:
            raise WeightsError(f"{path}: {e}") from None

    @classmethod
    def priors_only(cls) -> "NumpyPredictor":
        """The untrained model: zero heads, so the output is the priors with the solved master width (the
        torch model's zero-initialised heads do the same whatever its encoder's random weights)."""
        shapes = _architecture(ENCODER_HIDDEN, HEAD_HIDDEN, TONE_HIDDEN)
        return cls({k: np.zeros(v, dtype=np.float32) for k, v in shapes.items()})

    def _linear(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def __call__(self, features: np.ndarray, roles: np.ndarray, style: np.ndarray, stem_prior: np.ndarray,
                 master_prior: np.ndarray, bounds: Bounds | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Settings for one session, every stem real, inside the envelope by construction.

        Args:
            features: normalised stem features ``(S, F)`` float32 (:meth:`StemFeatures.vector`).
            roles: role index per stem ``(S,)`` (``automix.roles.ROLES``).
            style: normalised style vector ``(T,)`` float32 (``StyleTargets.vector(normalized=True)``).
            stem_prior, master_prior: prior settings as unit values ``(S, P)`` and ``(M,)`` float32.
            bounds: the envelope's boxes (:func:`make_bounds`); None builds them from the default envelope
                at 48 kHz, as the torch model does.

        Returns:
            stem units ``(S, P)`` and master units ``(M,)``, float32 in [0, 1].
        """
        features = np.asarray(features, dtype=np.float32)
        style = np.asarray(style, dtype=np.float32)
        stem_prior = np.asarray(stem_prior, dtype=np.float32)
        master_prior = np.asarray(master_prior, dtype=np.float32)
        roles = np.asarray(roles, dtype=np.int64)
        s = features.shape[0]
        if not 1 <= s <= MAX_STEMS:
            raise ValueError(f"between 1 and {MAX_STEMS} stems, got {s}")
        if (features.shape != (s, len(INPUT_NAMES)) or roles.shape != (s,)
                or stem_prior.shape != (s, len(STEM_SLOTS)) or master_prior.shape != (len(MASTER_SLOTS),)):
            raise ValueError(f"features (S, {len(INPUT_NAMES)}), roles (S,), stem_prior (S, {len(STEM_SLOTS)}) and "
                             f"master_prior ({len(MASTER_SLOTS)},) for S stems; got {features.shape}, "
                             f"{roles.shape}, {stem_prior.shape}, {master_prior.shape}")
        if roles.min() < 0 or roles.max() >= len(ROLES):
            raise ValueError(f"role indices must be in 0..{len(ROLES) - 1}, got {roles.tolist()}")
        if bounds is None:
            from automix.styles import default_envelope

            bounds = make_bounds(default_envelope(), is_mono(features, default_envelope()), stem_prior)
        onehot = np.eye(len(ROLES), dtype=np.float32)[roles]
        style_s = np.broadcast_to(style, (s, style.shape[0]))
        # the encoder reads the level-invariant features; the octave shares after them are the tone estimate's
        phi = np.concatenate([features[:, :len(FEATURE_NAMES)], onehot, style_s], axis=-1)
        for i in (0, 2, 4):
            phi = _gelu(self._linear(f"encoder.{i}", phi))
        # the session context: mean and max of every stem's encoding (every stem real: no mask)
        context = np.concatenate([phi.sum(axis=0) / np.float32(s), phi.max(axis=0)])
        stem_in = np.concatenate([phi, np.broadcast_to(context, (s, context.shape[0])), style_s], axis=-1)
        stem_residual = self._linear("stem_head.2", _gelu(self._linear("stem_head.0", stem_in)))
        stem = bounded_stems(stem_prior, stem_residual, bounds)
        # the master width's prior is solved from the strips, the head only corrects it
        master_prior = master_prior.copy()
        width = solve_master_width(features, stem, style)
        master_prior[MASTER_WIDTH] = _to_unit(MASTER_SLOTS[MASTER_WIDTH].spec, width)
        head_in = np.concatenate([context, style])
        residual = self._linear("master_head.2", _gelu(self._linear("master_head.0", head_in)))
        before_tone = bounded_master(master_prior, residual, bounds)
        gains = list(MASTER_TONE_GAINS)
        cues, move = tone_cues(features, stem, before_tone, style, (bounds.master_lo[gains], bounds.master_hi[gains]))
        # the tone head: an MLP on (style, cues) plus the solved moves, trusted per gain by solve_weight
        tone = np.concatenate([style, cues])
        for i in (0, 2):
            tone = _gelu(self._linear(f"tone_head.mlp.{i}", tone))
        tone = self._linear("tone_head.mlp.4", tone)
        tone[list(_TONE_GAIN_AT)] += move * self.w["tone_head.solve_weight"]
        residual[list(MASTER_EQ.values())] += tone  # before_tone is computed: the residual may change
        master = bounded_master(master_prior, residual, bounds)
        return stem, master


# -------------------------------------------------------------------------------------------- production entry

_PREDICTOR: NumpyPredictor | None = None


def load_predictor() -> NumpyPredictor:
    """The shipped predictor (hash-verified) if its weights are packaged, else the priors-only model; cached."""
    global _PREDICTOR
    if _PREDICTOR is None:
        _PREDICTOR = NumpyPredictor.load(SHIPPED) if SHIPPED.exists() else NumpyPredictor.priors_only()
    return _PREDICTOR


def predict_settings(features: Sequence[StemFeatures], paths: Sequence[str], roles: Sequence[str],
                     style: StyleTargets, predictor: NumpyPredictor | None = None, sample_rate: int = 48000
                     ) -> tuple[list[list[PluginSettings]], list[PluginSettings]]:
    """Stem chains and master chain (engineering units) for a session, inside the style's envelope:
    :func:`automix.mixer.predict_settings` without torch."""
    from automix.priors import master_prior, stem_priors

    model = predictor or load_predictor()
    x = np.stack([f.vector() for f in features])
    mono = stems_mono(features, style.envelope)
    priors = stem_priors(style, paths, roles, mono)
    prior_u = np.array([flatten(c, STEM_SLOTS) for c in priors], dtype=np.float32)
    stem_u, master_u = model(
        x, np.array([ROLES.index(r) for r in roles]), style.vector(normalized=True).astype(np.float32), prior_u,
        np.array(flatten(master_prior(style), MASTER_SLOTS), dtype=np.float32),
        make_bounds(style.envelope, np.array(mono, dtype=bool), prior_u, sample_rate))
    return settings_from_units(stem_u, master_u, style)


def settings_from_units(stem_u, master_u, style: StyleTargets) -> tuple[list[list[PluginSettings]], list[PluginSettings]]:
    """The predictor's unit outputs (``(S, P)`` and ``(M,)``, numpy or torch) as stem and master chains in
    engineering units; the limiter's true-peak switch and ceiling come from the style, not the network."""
    stems = [unflatten(u, STEM_SLOTS, STEM_CHAIN) for u in stem_u]
    master = unflatten(master_u, MASTER_SLOTS, MASTER_CHAIN)
    for p in master:
        if p.plugin == "limiter":
            p.params.update(true_peak=1.0, ceiling_db=style.true_peak_ceiling_dbtp)
    return stems, master
