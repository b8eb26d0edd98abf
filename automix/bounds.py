"""Keep chosen moves inside the engineer's envelope by construction: a box per parameter and an EQ scale.

The predictor and the refinement produce unbounded logits. :func:`bounded_stems`
and :func:`bounded_master` turn them into settings that cannot leave the
envelope (:mod:`automix.envelope`):

- every parameter lives in a box ``[lo, hi]`` (unit interval of its spec):
  ``u = lo + (hi - lo) sigmoid(z)``, with ``z`` the logit of the prior's place in
  the box plus the network's residual, so a zero residual gives the prior (pulled
  into the box) and no output can leave it;
- the stem's level (fader + compressor makeup + saturation trim, dB) is boxed as
  a sum: the fader's box is set after the makeup and trim are known;
- EQ gains are boxed per section (boosts, cuts, shelves), then the whole EQ is
  scaled by the largest factor ``alpha`` in [0, 1] that keeps its
  net response and its fighting inside the envelope. ``alpha`` is chosen
  without gradient, and ``alpha = 0`` (a flat EQ) is always inside, so the
  result is inside for any input;
- the stem compressor's threshold and ratio have the envelope's floor and ceiling;
- pans are the role priors (mirrored pairs, kick/snare/bass/vocal centred):
  their box is the prior itself. Stems with no side signal keep width 1.

The checker in :mod:`automix.envelope` verifies the same limits independently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from automix.envelope import Envelope, net_grid_hz
from automix.features import FEATURE_NAMES
from automix.layout import MASTER_SLOTS, STEM_SLOTS
from automix.predictor_tuning import BISECTIONS, BOX_EPS, EQ_MARGIN_DB, LEVEL_MARGIN_DB, N_ALPHAS  # noqa: F401

#: candidate EQ scales, largest first
_ALPHAS = torch.linspace(1.0, 0.0, N_ALPHAS, dtype=torch.float64)
_BISECTIONS = BISECTIONS
_EPS = BOX_EPS
#: side share ``r^2 / (1 + r^2)`` at or below which a stem counts as having no side content
_MS_COLUMN = FEATURE_NAMES.index("ms_ratio")


def _index(layout, key: str) -> int:
    return next(i for i, s in enumerate(layout) if s.key == key)


_GAIN = _index(STEM_SLOTS, "gain.gain_db")
_MAKEUP = _index(STEM_SLOTS, "compressor.makeup_db")
_TRIM = _index(STEM_SLOTS, "saturation.trim_db")
_PAN = _index(STEM_SLOTS, "pan.pan")
_WIDTH = _index(STEM_SLOTS, "stereo_width.width")
_DRIVE = _index(STEM_SLOTS, "saturation.drive_db")
_THRESHOLD = _index(STEM_SLOTS, "compressor.threshold_db")
_RATIO = _index(STEM_SLOTS, "compressor.ratio")
_MASTER_WIDTH = _index(MASTER_SLOTS, "stereo_width.width")
_MASTER_THRESHOLD = _index(MASTER_SLOTS, "compressor.threshold_db")
_MASTER_RATIO = _index(MASTER_SLOTS, "compressor.ratio")
#: the EQ's shelf and peak gain slots, in section order (low shelf, peak 1-3, high shelf)
_GAIN_NAMES = ("low_shelf_gain_db", "peak1_gain_db", "peak2_gain_db", "peak3_gain_db", "high_shelf_gain_db")
_SHELF = (True, False, False, False, True)
_STEM_EQ = {s.spec.name: i for i, s in enumerate(STEM_SLOTS) if s.plugin == "eq"}
_MASTER_EQ = {s.spec.name: i for i, s in enumerate(MASTER_SLOTS) if s.plugin == "eq"}


def is_mono(features: torch.Tensor, envelope: Envelope) -> torch.Tensor:
    """True for stems whose side is ``envelope.mono_side_floor_db`` or more below their mid.

    Shape: normalised features ``(..., F)`` -> ``(...)`` bool.
    """
    r2 = 10.0 ** (envelope.mono_side_floor_db / 10.0)
    return features[..., _MS_COLUMN] <= r2 / (1.0 + r2)


@dataclass
class Bounds:
    """Boxes and EQ limits for one batch.

    Shape: ``stem_lo``/``stem_hi`` ``(B, S, P)`` and ``master_lo``/``master_hi`` ``(B, M)`` unit values;
    ``level_lo_db``/``level_hi_db`` ``(B, S)`` the stem level's box (dB, fader + makeup + trim);
    ``stem_net_db`` ``(B, 2)`` (min, max), ``stem_fight_db`` ``(B,)``, ``master_net_db`` ``(B,)`` (+-);
    ``grid_hz`` ``(K,)``.
    """

    stem_lo: torch.Tensor
    stem_hi: torch.Tensor
    level_lo_db: torch.Tensor
    level_hi_db: torch.Tensor
    master_lo: torch.Tensor
    master_hi: torch.Tensor
    stem_net_db: torch.Tensor
    stem_fight_db: torch.Tensor
    master_net_db: torch.Tensor
    grid_hz: torch.Tensor
    sample_rate: float = 48000.0


def _unit(layout, j: int, value: float) -> float:
    spec = layout[j].spec
    return float(min(max(spec.to_unit(min(max(value, spec.minimum), spec.maximum)), 0.0), 1.0))


def _eq_boxes(layout, eq: dict, lo: torch.Tensor, hi: torch.Tensor, peak: tuple[float, float], shelf: float) -> None:
    for name, is_shelf in zip(_GAIN_NAMES, _SHELF):
        a, b = (-shelf, shelf) if is_shelf else peak
        j = eq[name]
        lo[..., j] = _unit(layout, j, a)
        hi[..., j] = _unit(layout, j, b)


def make_bounds(envelopes: Sequence[Envelope], mono: torch.Tensor, stem_prior: torch.Tensor,
                sample_rate: float = 48000.0) -> Bounds:
    """The boxes for a batch: one envelope per session, which stems are mono, the prior units.

    Args:
        envelopes: one per session (batch item).
        mono: ``(B, S)`` bool, stems with no side signal (:func:`is_mono`): their width stays 1.
        stem_prior: the priors as unit values ``(B, S, P)`` (:mod:`automix.priors`): they carry the role
            levels and pans the boxes are centred on.
        sample_rate: rate the EQ responses are read at (the session's when known).
    """
    b, s, p = stem_prior.shape
    stem_lo = torch.zeros(b, s, p, dtype=torch.float64)
    stem_hi = torch.ones(b, s, p, dtype=torch.float64)
    master_lo = torch.zeros(b, len(MASTER_SLOTS), dtype=torch.float64)
    master_hi = torch.ones(b, len(MASTER_SLOTS), dtype=torch.float64)
    level = STEM_SLOTS[_GAIN].spec.from_unit(stem_prior[..., _GAIN].double())
    range_db = torch.tensor([e.stem_level_range_db - LEVEL_MARGIN_DB for e in envelopes], dtype=torch.float64)[:, None]
    for i, env in enumerate(envelopes):
        _eq_boxes(STEM_SLOTS, _STEM_EQ, stem_lo[i], stem_hi[i], (env.stem_eq_cut_min_db, env.stem_eq_boost_max_db),
                  env.stem_shelf_max_abs_db)
        stem_hi[i, :, _DRIVE] = _unit(STEM_SLOTS, _DRIVE, env.stem_drive_max_db)
        stem_lo[i, :, _THRESHOLD] = _unit(STEM_SLOTS, _THRESHOLD, env.stem_comp_threshold_min_db)
        stem_hi[i, :, _RATIO] = _unit(STEM_SLOTS, _RATIO, env.stem_comp_ratio_max)
        stem_hi[i, :, _WIDTH] = torch.where(mono[i], _unit(STEM_SLOTS, _WIDTH, 1.0),
                                            _unit(STEM_SLOTS, _WIDTH, env.stem_width_max))
        stem_lo[i, :, _WIDTH] = torch.where(mono[i], _unit(STEM_SLOTS, _WIDTH, 1.0), 0.0)
        # the stereo image is the role pans' (centred roles, mirrored pairs): the prior is the box
        stem_lo[i, :, _PAN] = stem_prior[i, :, _PAN]
        stem_hi[i, :, _PAN] = stem_prior[i, :, _PAN]
        _eq_boxes(MASTER_SLOTS, _MASTER_EQ, master_lo[i], master_hi[i],
                  (-env.master_peak_max_abs_db, env.master_peak_max_abs_db), env.master_shelf_max_abs_db)
        master_lo[i, _MASTER_WIDTH] = _unit(MASTER_SLOTS, _MASTER_WIDTH, env.master_width_min)
        master_hi[i, _MASTER_WIDTH] = _unit(MASTER_SLOTS, _MASTER_WIDTH, env.master_width_max)
        master_lo[i, _MASTER_THRESHOLD] = _unit(MASTER_SLOTS, _MASTER_THRESHOLD, env.master_comp_threshold_min_db)
        master_hi[i, _MASTER_RATIO] = _unit(MASTER_SLOTS, _MASTER_RATIO, env.master_comp_ratio_max)
    first = envelopes[0]
    if any((e.net_from_hz, e.net_to_hz) != (first.net_from_hz, first.net_to_hz) for e in envelopes):
        raise ValueError("one batch needs one EQ grid: its envelopes differ in net_from_hz / net_to_hz")
    return Bounds(
        stem_lo=stem_lo, stem_hi=stem_hi, level_lo_db=level - range_db, level_hi_db=level + range_db,
        master_lo=master_lo, master_hi=master_hi,
        stem_net_db=torch.tensor([[e.stem_eq_net_min_db + EQ_MARGIN_DB, e.stem_eq_net_max_db - EQ_MARGIN_DB]
                                  for e in envelopes], dtype=torch.float64),
        stem_fight_db=torch.tensor([e.stem_eq_fight_max_db - EQ_MARGIN_DB for e in envelopes], dtype=torch.float64),
        master_net_db=torch.tensor([e.master_eq_net_max_abs_db - EQ_MARGIN_DB for e in envelopes],
                                   dtype=torch.float64),
        grid_hz=torch.as_tensor(net_grid_hz(first), dtype=torch.float64), sample_rate=float(sample_rate))


def _logit(u: torch.Tensor) -> torch.Tensor:
    u = u.clamp(1e-4, 1 - 1e-4)
    return torch.log(u) - torch.log1p(-u)


def in_box(prior: torch.Tensor, residual: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``lo + (hi - lo) sigmoid(logit(place of prior in the box) + residual)``: never outside ``[lo, hi]``."""
    lo, hi = lo.to(prior.dtype), hi.to(prior.dtype)
    span = hi - lo
    place = (prior.clamp(min=lo, max=hi) - lo) / torch.where(span > _EPS, span, torch.ones_like(span))
    return lo + span * torch.sigmoid(_logit(place) + residual)


def section_db(sections: torch.Tensor, freqs_hz: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """dB response of biquad sections ``[b0, b1, b2, a1, a2]`` ``(..., 5)`` at ``freqs_hz`` ``(K,)`` -> ``(..., K)``."""
    w = 2 * math.pi * freqs_hz / sample_rate
    c1, s1, c2, s2 = torch.cos(w), torch.sin(w), torch.cos(2 * w), torch.sin(2 * w)
    b0, b1, b2, a1, a2 = (sections[..., k, None] for k in range(5))
    num = (b0 + b1 * c1 + b2 * c2) ** 2 + (b1 * s1 + b2 * s2) ** 2
    den = (1 + a1 * c1 + a2 * c2) ** 2 + (a1 * s1 + a2 * s2) ** 2
    return 10.0 * torch.log10(num.clamp_min(1e-30) / den.clamp_min(1e-30))


def eq_net_and_fight(params: dict, grid_hz: torch.Tensor, sample_rate: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Net response of the shelves and peaks (dB, ``(N, K)``) and their fighting (dB, ``(N,)``).

    ``params`` are every EQ parameter as float64 tensors ``(N,)``. Fighting is the sum of the sections'
    absolute gains minus the net response's range on the grid.
    """
    from automix.plugins.eq import eq_sections

    sections = eq_sections(sample_rate, exact_f32=False, **params)[:, 2:]  # the high-pass left out
    net = section_db(sections, grid_hz, sample_rate).sum(-2)
    total = sum(params[name].abs() for name in _GAIN_NAMES)
    return net, total - (net.amax(-1) - net.amin(-1))


def _inside(params: dict, alphas: torch.Tensor, grid_hz, sample_rate, net_lo, net_hi, fight_max) -> torch.Tensor:
    """Whether each EQ (params ``(N,)``) with its gains scaled by each of ``alphas`` ``(N, K)`` is inside the
    net/fight limits ``(N,)``. Shape: -> ``(N, K)`` bool."""
    n, k = alphas.shape
    trial = {name: v.detach().double().repeat_interleave(k) for name, v in params.items()}
    for name in _GAIN_NAMES:
        trial[name] = trial[name] * alphas.reshape(-1)
    net, fight = eq_net_and_fight(trial, grid_hz, sample_rate)
    ok = (net.amin(-1) >= net_lo.repeat_interleave(k)) & (net.amax(-1) <= net_hi.repeat_interleave(k))
    if fight_max is not None:
        ok &= fight <= fight_max.repeat_interleave(k)
    return ok.reshape(n, k)


def eq_scale(params: dict, grid_hz: torch.Tensor, sample_rate: float, net_lo: torch.Tensor, net_hi: torch.Tensor,
             fight_max: torch.Tensor | None) -> torch.Tensor:
    """The largest ``alpha`` in [0, 1] with every gain scaled by it inside the net/fight limits.

    The first passing point of a grid, then bisection toward the failing point above it: a grid alone would
    jump a whole step when round-off (another stem order, another recording level) moves an EQ across a
    step's edge. No gradient. Shape: params ``(N,)`` each, limits ``(N,)`` -> ``(N,)``.
    """
    with torch.no_grad():
        n = next(iter(params.values())).shape[0]
        limits = (grid_hz, sample_rate, net_lo, net_hi, fight_max)
        ok = _inside(params, _ALPHAS.repeat(n, 1), *limits)
        ok[:, -1] = True  # alpha 0: a flat EQ
        first = ok.to(torch.int64).argmax(-1)  # the first (largest) alpha that passes
        lo = _ALPHAS[first]
        hi = torch.where(first > 0, _ALPHAS[(first - 1).clamp_min(0)], lo)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            passed = _inside(params, mid[:, None], *limits)[:, 0]
            lo, hi = torch.where(passed, mid, lo), torch.where(passed, hi, mid)
        return lo


def _scaled_eq(u: torch.Tensor, layout, eq: dict, grid_hz, sample_rate, net_lo, net_hi, fight_max) -> torch.Tensor:
    """``u`` ``(N, P)`` with its EQ gains scaled into the net/fight limits."""
    params = {name: layout[j].spec.from_unit(u[:, j].double()) for name, j in eq.items()}
    alpha = eq_scale(params, grid_hz, sample_rate, net_lo, net_hi, fight_max).to(u.dtype)
    out = u.clone()
    for name in _GAIN_NAMES:
        j = eq[name]
        spec = layout[j].spec
        out[:, j] = spec.to_unit(spec.from_unit(u[:, j]) * alpha)
    return out


def _gain_box(u: torch.Tensor, bounds: Bounds) -> tuple[torch.Tensor, torch.Tensor]:
    """The fader's box (units) given the makeup and trim in ``u`` ``(B, S, P)``: the level's box less them."""
    spec = STEM_SLOTS[_GAIN].spec
    rest = STEM_SLOTS[_MAKEUP].spec.from_unit(u[..., _MAKEUP]) + STEM_SLOTS[_TRIM].spec.from_unit(u[..., _TRIM])
    lo = spec.to_unit((bounds.level_lo_db.to(u.dtype) - rest).clamp(spec.minimum, spec.maximum))
    hi = spec.to_unit((bounds.level_hi_db.to(u.dtype) - rest).clamp(spec.minimum, spec.maximum))
    return lo, hi


def bounded_stems(prior: torch.Tensor, residual: torch.Tensor, bounds: Bounds, mask: torch.Tensor) -> torch.Tensor:
    """Stem settings (units ``(B, S, P)``) inside the envelope from the prior units and the residual logits."""
    u = in_box(prior, residual, bounds.stem_lo, bounds.stem_hi)
    # the fader's box follows from the level's, given the makeup and trim just chosen
    lo, hi = _gain_box(u, bounds)
    gain = in_box(prior[..., _GAIN], residual[..., _GAIN], lo, hi)
    u = torch.cat([u[..., :_GAIN], gain[..., None], u[..., _GAIN + 1:]], dim=-1)
    b, s, p = u.shape
    net = bounds.stem_net_db[:, None, :].expand(b, s, 2).reshape(-1, 2)
    fight = bounds.stem_fight_db[:, None].expand(b, s).reshape(-1)
    flat = _scaled_eq(u.reshape(-1, p), STEM_SLOTS, _STEM_EQ, bounds.grid_hz, bounds.sample_rate,
                      net[:, 0], net[:, 1], fight)
    flat = torch.where(mask.reshape(-1, 1), flat, u.reshape(-1, p))
    return flat.reshape(b, s, p)


def bounded_master(prior: torch.Tensor, residual: torch.Tensor, bounds: Bounds) -> torch.Tensor:
    """Master settings (units ``(B, M)``) inside the envelope from the prior units and the residual logits."""
    u = in_box(prior, residual, bounds.master_lo, bounds.master_hi)
    return _scaled_eq(u, MASTER_SLOTS, _MASTER_EQ, bounds.grid_hz, bounds.sample_rate,
                      -bounds.master_net_db, bounds.master_net_db, None)


def box_logits(u: torch.Tensor, prior: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """The residual logits that :func:`in_box` maps ``prior`` to ``u`` with (inverse, for starting a refinement)."""
    lo, hi = lo.to(u.dtype), hi.to(u.dtype)
    span = hi - lo
    safe = torch.where(span > _EPS, span, torch.ones_like(span))
    place_u = (u.clamp(min=lo, max=hi) - lo) / safe
    place_p = (prior.clamp(min=lo, max=hi) - lo) / safe
    return torch.where(span > _EPS, _logit(place_u) - _logit(place_p), torch.zeros_like(u))


def stem_residual(u: torch.Tensor, prior: torch.Tensor, bounds: Bounds) -> torch.Tensor:
    """Residual logits with which :func:`bounded_stems` maps ``prior`` to ``u`` (``(B, S, P)`` units, inside
    the envelope): where a refinement that optimises residuals starts from settings it was given."""
    r = box_logits(u, prior, bounds.stem_lo, bounds.stem_hi)
    lo, hi = _gain_box(u, bounds)
    r[..., _GAIN] = box_logits(u[..., _GAIN], prior[..., _GAIN], lo, hi)
    return r
