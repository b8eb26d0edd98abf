"""The analytic bus estimate the predictor's master stages are solved on, and what they read from it.

Each stem's octave shares (its features), its predicted level, pan and width (exact for these linear
stages), its strip EQ's power gain at each octave's centre and its compressor's gain reduction from the
stem's envelope level histogram (:func:`compressor_power_gain`, a static model of the plugin's gain law)
give the bus in ten octave bands (:func:`strip_octave_power`). :func:`solve_master_tone` finds the master
EQ gains that bring that estimate to the style's band balance (a few Gauss-Newton steps), and
:func:`tone_cues` is what the predictor's tone head reads to correct it. The master width's prior is solved
from the strips' channel covariances (:func:`solve_master_width`): uncorrelated stems add, and the width
that scales the bus's ``RMS(S) / RMS(M)`` to the style's target is one division.

Everything here is differentiable torch on engineering-unit tensors; shapes are in each docstring.
"""
from __future__ import annotations

import math

import torch

from automix.bounds import in_box
from automix.features import ENVELOPE_COLUMNS, ENVELOPE_LEVELS_DB, FEATURE_NAMES, OCTAVE_COLUMNS, stereo_energies
from automix.layout import MASTER_SLOTS, STEM_SLOTS
from automix.meters.spectral import N_OCTAVES, OCTAVE_CENTRES_HZ, OCTAVE_EDGES_HZ
from automix.styles import VECTOR_FIELDS, from_normalized
from automix.predictor_tuning import (ESTIMATE_RATE, FD_STEP, LOGIT_EPS, MIR_FRAME,  # noqa: F401
                                     MIR_SAMPLE_RATE, SOLVE_ITERATIONS, SOLVE_LOGIT_MAX, SOLVE_RIDGE)

_EPS = LOGIT_EPS


def logit(u: torch.Tensor) -> torch.Tensor:
    u = u.clamp(_EPS, 1 - _EPS)
    return torch.log(u) - torch.log1p(-u)


def _slot(layout, key: str) -> int:
    return next(i for i, s in enumerate(layout) if s.key == key)


_STEM_LEVEL_DB = tuple(_slot(STEM_SLOTS, k) for k in ("gain.gain_db", "compressor.makeup_db", "saturation.trim_db"))
_STEM_PAN = _slot(STEM_SLOTS, "pan.pan")
_STEM_WIDTH = _slot(STEM_SLOTS, "stereo_width.width")
_MASTER_WIDTH = _slot(MASTER_SLOTS, "stereo_width.width")
_STEM_EQ = tuple(i for i, s in enumerate(STEM_SLOTS) if s.plugin == "eq")
_STEM_THRESHOLD = _slot(STEM_SLOTS, "compressor.threshold_db")
_STEM_RATIO = _slot(STEM_SLOTS, "compressor.ratio")
_MASTER_EQ = tuple(i for i, s in enumerate(MASTER_SLOTS) if s.plugin == "eq")
#: the master EQ gains the tone solve moves: low shelf, the three peaks, high shelf
_MASTER_TONE_GAINS = tuple(_slot(MASTER_SLOTS, f"eq.{k}_gain_db")
                           for k in ("low_shelf", "peak1", "peak2", "peak3", "high_shelf"))
#: which band (low, mid, high) each octave band nests in: ``(10, 3)`` indicator
_OCTAVE_BANDS = torch.nn.functional.one_hot(torch.tensor((0, 0, 0, 1, 1, 1, 1, 2, 2, 2)), 3).double()
#: Gauss-Newton iterations of :func:`solve_master_tone`, its ridge (share^2 per logit^2: a 0.045 share miss
#: weighs as much as one logit of move) and its bounds (logits); the forward-difference step (logits)
def _octave_bins() -> tuple[torch.Tensor, torch.Tensor]:
    """Per octave band: the number of the band meter's STFT bins in it and the share of it the meter sees."""
    nyquist = MIR_SAMPLE_RATE / 2.0
    edges = (0.0,) + OCTAVE_EDGES_HZ + (2 * OCTAVE_EDGES_HZ[-1],)
    seen = [max(0.0, min(hi, nyquist) - lo) for lo, hi in zip(edges[:-1], edges[1:])]
    share = [v / (hi - lo) for v, lo, hi in zip(seen, edges[:-1], edges[1:])]
    return (torch.tensor(seen, dtype=torch.float64) / (MIR_SAMPLE_RATE / MIR_FRAME),
            torch.tensor(share, dtype=torch.float64))


_OCTAVE_BINS, _OCTAVE_SEEN = _octave_bins()
_SOLVE_LOGIT_MAX = SOLVE_LOGIT_MAX
_FD_STEP = FD_STEP
#: what the tone head reads besides the style (see :func:`tone_cues`)
N_TONE_CUES = 3 + 1 + 3 + len(_MASTER_TONE_GAINS) + N_OCTAVES
_ESTIMATE_RATE = ESTIMATE_RATE


def strip_energies(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squares of ``L + R`` and ``L - R`` of each strip's output (loudness-normalised stem, linear stages).

    Four times the mid and side mean squares (a factor every ratio below cancels), in units of the stem's
    loudness. Shape: ``(B, S, F)``, ``(B, S)``, ``(B, S, P)`` -> two ``(B, S)``.
    """
    e_l, e_r, e_lr = stereo_energies(features)
    level_db = sum(STEM_SLOTS[j].spec.from_unit(stem_u[..., j]) for j in _STEM_LEVEL_DB)
    g = torch.pow(10.0, level_db / 10.0) * mask.to(stem_u.dtype)
    theta = (STEM_SLOTS[_STEM_PAN].spec.from_unit(stem_u[..., _STEM_PAN]) + 1.0) * (math.pi / 4.0)
    gl2, gr2, glr = 2 * torch.cos(theta) ** 2, 2 * torch.sin(theta) ** 2, 2 * torch.cos(theta) * torch.sin(theta)
    w = STEM_SLOTS[_STEM_WIDTH].spec.from_unit(stem_u[..., _STEM_WIDTH])
    direct = gl2 * e_l + gr2 * e_r
    return g * (direct + 2 * glr * e_lr), g * w * w * (direct - 2 * glr * e_lr)


def bus_ms_ratio(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor) -> torch.Tensor:
    """Estimated ``RMS(S) / RMS(M)`` of the summed strips (loudness-normalised stems, ``stem_u`` settings).

    Exact for the strips' linear stages and uncorrelated stems; compression and saturation
    drive are left out. Shape: features ``(B, S, F)``, mask ``(B, S)``, stem_u ``(B, S, P)`` -> ``(B,)``.
    """
    mid, side = (e.sum(-1) for e in strip_energies(features, mask, stem_u))
    return torch.sqrt(side.clamp_min(0.0) / mid.clamp_min(1e-12))


def _eq_power(params: dict, freqs_hz) -> torch.Tensor:
    """Power gain ``|H|^2`` of EQs (:mod:`automix.plugins.eq`, engineering-unit tensors ``(N,)``) at ``freqs_hz``.

    Designed at :data:`_ESTIMATE_RATE` in float64. Shape: -> ``(N, K)``.
    """
    from automix.plugins.eq import eq_sections

    sec = eq_sections(_ESTIMATE_RATE, exact_f32=False, **params)  # (N, 7, [b0, b1, b2, a1, a2])
    w = 2 * math.pi * torch.as_tensor(freqs_hz, dtype=torch.float64) / _ESTIMATE_RATE
    c1, s1, c2, s2 = torch.cos(w), torch.sin(w), torch.cos(2 * w), torch.sin(2 * w)
    b0, b1, b2, a1, a2 = (sec[..., k, None] for k in range(5))  # (N, 7, 1) against (K,)
    num = (b0 + b1 * c1 + b2 * c2) ** 2 + (b1 * s1 + b2 * s2) ** 2
    den = (1 + a1 * c1 + a2 * c2) ** 2 + (a1 * s1 + a2 * s2) ** 2
    return (num / den).prod(-2)


def _eq_params(units: torch.Tensor, layout, positions) -> dict:
    """The EQ slots ``positions`` of ``layout`` as engineering-unit float64 tensors; ``units`` ``(N, P)``."""
    flat = units.double()
    return {layout[j].spec.name: layout[j].spec.from_unit(flat[:, j]) for j in positions}


def strip_eq_power(stem_u: torch.Tensor, freqs_hz) -> torch.Tensor:
    """Power gain ``|H|^2`` of each strip's EQ at ``freqs_hz`` (Hz, any length ``K``), from its section design.

    Shape: stem_u ``(..., P)`` -> ``(..., K)`` (float64).
    """
    lead = stem_u.shape[:-1]
    power = _eq_power(_eq_params(stem_u.reshape(-1, stem_u.shape[-1]), STEM_SLOTS, _STEM_EQ), freqs_hz)
    return power.reshape(*lead, power.shape[-1])


def master_eq_power(master_u: torch.Tensor, freqs_hz) -> torch.Tensor:
    """Power gain of the master EQ at ``freqs_hz``. Shape: master_u ``(N, M)`` -> ``(N, K)`` (float64)."""
    return _eq_power(_eq_params(master_u, MASTER_SLOTS, _MASTER_EQ), freqs_hz)


def strip_octave_power(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor,
                       compressors: bool = True) -> torch.Tensor:
    """Each strip's mid power per octave band: its octave shares x its mid energy x its EQ's gain there x its
    compressor's power gain (:func:`compressor_power_gain`; ``compressors=False`` leaves it out).

    The EQ's power gain at :data:`~automix.meters.spectral.OCTAVE_CENTRES_HZ` stands for each octave's; the
    linear stages (level, pan, width) are exact; saturation is left out.
    Shape: features ``(B, S, F)``, mask ``(B, S)``, stem_u ``(B, S, P)`` -> ``(B, S, 10)`` (float64).
    """
    mid, _ = strip_energies(features.double(), mask, stem_u.double())
    shares = features.double()[..., list(OCTAVE_COLUMNS)].clamp_min(0.0)
    eq = shares * strip_eq_power(stem_u, OCTAVE_CENTRES_HZ)
    if compressors:
        mid = mid * compressor_power_gain(features, stem_u, eq.sum(-1))
    return mid[..., None] * eq


def compressor_power_gain(features: torch.Tensor, stem_u: torch.Tensor, eq_power_gain: torch.Tensor) -> torch.Tensor:
    """How much each strip's compressor turns its stem's power down (a factor <= 1), static model.

    The stem enters the compressor at :data:`~automix.constants.REFERENCE_LUFS` times its EQ's broadband power
    gain ``eq_power_gain``; each envelope level bin (features, :data:`~automix.features.ENVELOPE_LEVELS_DB`)
    above the threshold is turned down by ``(1 - 1/ratio)`` of its excess, as the plugin's gain law does
    sample by sample. The ballistics are the feature's, not the strip's (attack and release are left out).
    Saturation is left out too: a static tanh model of it (each bin a sine at its level) halved the spread of
    the strips' rendered-over-estimated power (1.06 to 0.53 dB) but not the bus band-share error (0.028 without
    it, 0.034 with it, 24 held-out sessions), because the power it adds lands in the harmonics' octaves.
    Shape: features ``(B, S, F)``, stem_u ``(B, S, P)``, eq_power_gain ``(B, S)`` -> ``(B, S)`` (float64).
    """
    from automix.constants import REFERENCE_LUFS

    u = stem_u.double()
    threshold = STEM_SLOTS[_STEM_THRESHOLD].spec.from_unit(u[..., _STEM_THRESHOLD])
    slope = 1.0 / STEM_SLOTS[_STEM_RATIO].spec.from_unit(u[..., _STEM_RATIO]) - 1.0  # <= 0
    level = (torch.tensor(ENVELOPE_LEVELS_DB, dtype=torch.float64) + REFERENCE_LUFS
             + 10.0 * torch.log10(eq_power_gain.clamp_min(1e-12))[..., None])             # (B, S, bins) dBFS
    reduction_db = slope[..., None] * (level - threshold[..., None]).clamp_min(0.0)
    weights = features.double()[..., list(ENVELOPE_COLUMNS)].clamp_min(0.0)
    total = weights.sum(-1)
    gain = (weights * torch.pow(10.0, reduction_db / 10.0)).sum(-1) / total.clamp_min(1e-12)
    return torch.where(total > 0, gain, torch.ones_like(gain))


def _octave_magnitudes(octave_power: torch.Tensor) -> torch.Tensor:
    """Octave powers ``(..., 10)`` -> an estimate of each octave's summed STFT magnitude in the meter's frames.

    The band balance is a share of the magnitude spectrum of 2048-point frames at 22,050 Hz. A band of
    ``N`` such bins holding power ``P`` spread evenly has ``sum |X| = sqrt(N P)`` (exact for a flat spectrum
    inside the band, an upper bound otherwise); only the part below 11,025 Hz is seen, taken pro rata.
    """
    return torch.sqrt(octave_power.clamp_min(0.0) * _OCTAVE_SEEN.to(octave_power.dtype)
                      * _OCTAVE_BINS.to(octave_power.dtype))


def _band_shares(octave_power: torch.Tensor) -> torch.Tensor:
    """``(..., 10)`` octave powers -> ``(..., 3)`` low/mid/high magnitude shares (the octaves nest in the bands)."""
    bands = _octave_magnitudes(octave_power) @ _OCTAVE_BANDS.to(octave_power.dtype)
    return bands / bands.sum(-1, keepdim=True).clamp_min(1e-300)


def bus_band_shares(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor,
                    compressors: bool = True) -> torch.Tensor:
    """Estimated low/mid/high power shares of the summed strips' mid signal (the band balance's definition).

    From :func:`strip_octave_power` summed over the stems. Shape: features ``(B, S, F)``, mask ``(B, S)``,
    stem_u ``(B, S, P)`` -> ``(B, 3)``, rows sum to 1.
    """
    return _band_shares(strip_octave_power(features, mask, stem_u, compressors).sum(-2))


def bus_centroid_octaves(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor) -> torch.Tensor:
    """A rough bus centroid cue: the stems' centroids averaged in octaves, weighted by their strips' power.

    ``log2(centroid / 1 kHz)``. Shape: ``(B, S, F)``, ``(B, S)``, ``(B, S, P)`` -> ``(B,)``.
    """
    return _centroid_octaves(features, strip_octave_power(features, mask, stem_u))


def _centroid_octaves(features: torch.Tensor, octave_power: torch.Tensor) -> torch.Tensor:
    """The stems' centroids in octaves re 1 kHz, averaged with their strips' power as weights. ``(B,)``."""
    power = octave_power.sum(-1)
    octaves = features.double()[..., FEATURE_NAMES.index("spectral_centroid_hz")] * 3.0  # see StemFeatures.vector
    return (power * octaves).sum(-1) / power.sum(-1).clamp_min(1e-12)


def master_band_shares(bus_octaves: torch.Tensor, master_u: torch.Tensor) -> torch.Tensor:
    """Band shares of an estimated bus (octave powers ``(B, 10)``) after the master EQ of ``master_u`` ``(B, M)``.

    Shape: -> ``(B, 3)`` (float64).
    """
    return _band_shares(bus_octaves * master_eq_power(master_u, OCTAVE_CENTRES_HZ))


def solve_master_tone(bus_octaves: torch.Tensor, master_u: torch.Tensor, want: torch.Tensor,
                      box: tuple[torch.Tensor, torch.Tensor] | None = None,
                      iterations: int = SOLVE_ITERATIONS, ridge: float = SOLVE_RIDGE) -> torch.Tensor:
    """Master EQ gain moves (logits in the envelope's box) that bring an estimated bus's band shares to ``want``.

    Damped Gauss-Newton on the logits of the master EQ's five gains (:data:`_MASTER_TONE_GAINS`: low shelf,
    three peaks, high shelf, at the frequencies and Qs of ``master_u``) from ``master_u``'s, minimising
    ``|shares - want|^2 + ridge |move|^2``; the Jacobian by forward differences, all in one batched design.
    A gain at logit ``z`` is ``lo + (hi - lo) sigmoid(z)`` of its ``box`` (unit values ``(B, 5)`` each,
    default the whole range), as :func:`automix.bounds.in_box` maps the network's residuals.
    No gradient. Shape: bus_octaves ``(B, 10)``, master_u ``(B, M)``, want ``(B, 3)`` -> ``(B, 5)``.
    """
    with torch.no_grad():
        base = master_u.detach().double()
        n = base.shape[0]
        lo, hi = (torch.zeros(n, 5, dtype=base.dtype), torch.ones(n, 5, dtype=base.dtype)) if box is None else \
            (box[0].double(), box[1].double())
        span = (hi - lo).clamp_min(1e-9)
        z0 = logit((base[:, list(_MASTER_TONE_GAINS)].clamp(min=lo, max=hi) - lo) / span)
        z = z0.clone()
        n, k = z.shape
        steps = torch.cat([torch.zeros(1, k, dtype=z.dtype), _FD_STEP * torch.eye(k, dtype=z.dtype)])  # (k+1, k)
        eye = ridge * torch.eye(k, dtype=z.dtype)
        for _ in range(iterations):
            trial = (z[:, None, :] + steps).reshape(-1, k)  # (B (k+1), k)
            u = base.repeat_interleave(k + 1, 0)
            u[:, list(_MASTER_TONE_GAINS)] = lo.repeat_interleave(k + 1, 0) \
                + span.repeat_interleave(k + 1, 0) * torch.sigmoid(trial)
            s = master_band_shares(bus_octaves.double().repeat_interleave(k + 1, 0), u).reshape(n, k + 1, 3)
            r = s[:, 0] - want.double()                                    # (B, 3)
            jac = ((s[:, 1:] - s[:, :1]) / _FD_STEP).transpose(1, 2)       # (B, 3, k)
            jt = jac.transpose(1, 2)
            # ridge on the distance from the start, so iterating does not walk away from the prior
            rhs = -(jt @ r[..., None])[..., 0] - ridge * (z - z0)
            z = (z + torch.linalg.solve(jt @ jac + eye, rhs)).clamp(-_SOLVE_LOGIT_MAX, _SOLVE_LOGIT_MAX)
        return torch.nan_to_num(z - z0)


def solve_master_width(features, mask, stem_u, style) -> torch.Tensor:
    """Master width (engineering units, clipped to its range) that brings the estimated bus M/S to the style's.

    Shape: ``(B,)``; ``style`` is the normalised style vector ``(B, T)``.
    """
    spec = MASTER_SLOTS[_MASTER_WIDTH].spec
    target = from_normalized("stereo_ms_ratio", style[:, VECTOR_FIELDS.index("stereo_ms_ratio")])
    ratio = bus_ms_ratio(features, mask, stem_u)
    return (target / ratio.clamp_min(target / spec.maximum + 1e-6)).clamp(spec.minimum, spec.maximum)


def style_band_shares(style: torch.Tensor) -> torch.Tensor:
    """The style's low/mid/high shares from its normalised vector (band fractions are their own
    normalisation). Shape: ``(B, T)`` -> ``(B, 3)``."""
    low = VECTOR_FIELDS.index("balance_low")
    return style[:, low:low + 3]


def tone_cues(features, mask, stem_u, master_u, style, box=None) -> tuple[torch.Tensor, torch.Tensor]:
    """What the tone head reads, and the solved master EQ gain moves; no gradient.

    Cues, all against the style: ``log(share / style share)`` per band of the estimated bus before the master
    (3); ``log2(estimated centroid / style centroid)`` (1); the same band cue after the master EQ with the
    solved moves (3); the solved moves themselves (logits, 5); the estimated bus's octave shares as
    ``log(10 x share)`` (10: where inside each band the power sits).
    Shape: ``(B, S, F)``, ``(B, S)``, ``(B, S, P)``, master_u ``(B, M)`` (before the tone), normalised
    style ``(B, T)`` -> cues ``(B, N_TONE_CUES)``, moves ``(B, 5)`` (style's dtype).
    """
    with torch.no_grad():
        power = strip_octave_power(features, mask, stem_u.detach())  # the strip EQ designs, once for all cues
        bus = power.sum(-2)
        want = style_band_shares(style).double().clamp_min(1e-4)
        move = solve_master_tone(bus, master_u, want, box)
        solved = master_u.detach().double().clone()
        gains = solved[:, list(_MASTER_TONE_GAINS)]
        lo, hi = (torch.zeros_like(gains), torch.ones_like(gains)) if box is None else (box[0].double(), box[1].double())
        solved[:, list(_MASTER_TONE_GAINS)] = in_box(gains, move, lo, hi)
        after = master_band_shares(bus, solved)
        centroid = from_normalized("spectral_centroid_hz", style[:, VECTOR_FIELDS.index("spectral_centroid_hz")])
        octaves = _centroid_octaves(features, power) - torch.log2(centroid.double() / 1000.0)
        octave_shares = bus / bus.sum(-1, keepdim=True).clamp_min(1e-300)
        cues = torch.cat([torch.log(_band_shares(bus).clamp_min(1e-4) / want), octaves[:, None],
                          torch.log(after.clamp_min(1e-4) / want), move,
                          torch.log((N_OCTAVES * octave_shares).clamp_min(1e-4))], dim=-1)
        return cues.to(style.dtype), move.to(style.dtype)
