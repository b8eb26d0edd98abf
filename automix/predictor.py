"""MixingParameterPredictor: per-stem features + style targets -> settings for every stem and the master.

Architecture (permutation-equivariant over stems, any count from 1 to 64)::

    per stem:  [features, role one-hot, style vector] -> 256 -> 256 -> 128   (shared encoder phi)
    session:   masked mean and max of phi over stems                        (context, 256)
    per stem:  [phi_i, context, style] -> 128 -> P_stem   (residual logits, zero-initialised)
    master:    [context, style]        -> 128 -> P_master (residual logits, zero-initialised)
    tone:      [style, tone_cues (estimated bus band shares and centroid against the style's)]
               -> 64 -> 64 -> master EQ (residual logits added to the master EQ slots, zero-initialised)
    output:    sigmoid(prior_logits + residual)  in (0, 1), mapped through the plugin specs

The master tone is not guessed blind either. The mean and max over stems do
not weigh a stem by how loud the strips make it, so on their own they cannot
tell a bass-heavy bus from a thin one. :func:`bus_band_shares` estimates the
bus's low/mid/high power shares from the stems' band shares, their predicted
levels and pans and their strip EQ's response at one frequency per band, and
the tone head (``tone_head``) reads how far that estimate is from the style's
balance and corrects the master EQ. It is trained in a second, cheap stage
with everything else frozen (see :mod:`automix.train`).

The master width is not guessed: its prior is *solved* from the predicted
strips (:func:`solve_master_width`). Each stem's channel covariance relative
to its loudness follows from its features (:func:`automix.features.stereo_energies`);
the strip's linear stages (gain, compressor makeup, saturation trim, pan,
width) transform it exactly, uncorrelated stems add, and the width that
scales the bus's ``RMS(S) / RMS(M)`` to the style's target is one division.
The network's residual on that slot then only learns what the estimate
leaves out (compression, saturation, the master EQ).

Stems only interact through symmetric pooling, so permuting the stems
permutes the outputs. The style vector conditions every layer, so custom
targets work without retraining. With zero-initialised heads the output is
exactly the priors of :mod:`automix.priors` (style + roles): sensible
settings before any training.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from automix.features import FEATURE_NAMES, stereo_energies
from automix.layout import MASTER_SLOTS, STEM_SLOTS
from automix.roles import ROLES
from automix.styles import VECTOR_FIELDS, from_normalized

MAX_STEMS = 64
_EPS = 1e-4


def _slot(layout, key: str) -> int:
    return next(i for i, s in enumerate(layout) if s.key == key)


_STEM_LEVEL_DB = tuple(_slot(STEM_SLOTS, k) for k in ("gain.gain_db", "compressor.makeup_db", "saturation.trim_db"))
_STEM_PAN = _slot(STEM_SLOTS, "pan.pan")
_STEM_WIDTH = _slot(STEM_SLOTS, "stereo_width.width")
_MASTER_WIDTH = _slot(MASTER_SLOTS, "stereo_width.width")
_STEM_EQ = tuple(i for i, s in enumerate(STEM_SLOTS) if s.plugin == "eq")
_MASTER_EQ = tuple(i for i, s in enumerate(MASTER_SLOTS) if s.plugin == "eq")
#: one frequency per feature band (< 250 Hz, 250 Hz - 4 kHz, > 4 kHz; :mod:`automix.features`), Hz: the
#: geometric middle of the band's musically busy part; a strip EQ's power gain there stands for the band's.
#: Coarse, but finer guesses do worse: five log-spaced points per band (equal power per octave assumed)
#: misjudged the strips' band shares more often (median error 0.075 against 0.062 for one point), because
#: three band shares do not say where inside a band a stem's power sits
BAND_FREQS_HZ = (80.0, 1000.0, 8000.0)
#: the rate the strip EQ responses are designed at for the estimate: 44.1 and 48 kHz designs differ by
#: far less than one frequency per band approximates
_ESTIMATE_RATE = 48000


def _strip_energies(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor
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
    mid, side = (e.sum(-1) for e in _strip_energies(features, mask, stem_u))
    return torch.sqrt(side.clamp_min(0.0) / mid.clamp_min(1e-12))


def strip_band_gains(stem_u: torch.Tensor) -> torch.Tensor:
    """Power gain ``|H|^2`` of each strip's EQ at :data:`BAND_FREQS_HZ`, from the EQ's own section design.

    Shape: stem_u ``(..., P)`` -> ``(..., 3)`` (float64).
    """
    return strip_eq_power(stem_u, BAND_FREQS_HZ)


def strip_eq_power(stem_u: torch.Tensor, freqs_hz) -> torch.Tensor:
    """Power gain ``|H|^2`` of each strip's EQ at ``freqs_hz`` (Hz, any length ``K``), from its section design.

    Shape: stem_u ``(..., P)`` -> ``(..., K)`` (float64).
    """
    from plugins.eq import eq_sections

    lead = stem_u.shape[:-1]
    flat = stem_u.reshape(-1, stem_u.shape[-1]).double()
    params = {STEM_SLOTS[j].spec.name: STEM_SLOTS[j].spec.from_unit(flat[:, j]) for j in _STEM_EQ}
    sec = eq_sections(_ESTIMATE_RATE, exact_f32=False, **params)  # (N, 7, [b0, b1, b2, a1, a2])
    w = 2 * math.pi * torch.as_tensor(freqs_hz, dtype=torch.float64) / _ESTIMATE_RATE
    c1, s1, c2, s2 = torch.cos(w), torch.sin(w), torch.cos(2 * w), torch.sin(2 * w)
    b0, b1, b2, a1, a2 = (sec[..., k, None] for k in range(5))  # (N, 7, 1) against (K,)
    num = (b0 + b1 * c1 + b2 * c2) ** 2 + (b1 * s1 + b2 * s2) ** 2
    den = (1 + a1 * c1 + a2 * c2) ** 2 + (a1 * s1 + a2 * s2) ** 2
    return (num / den).prod(-2).reshape(*lead, w.shape[-1])


def _strip_band_power(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor) -> torch.Tensor:
    """Each strip's mid power per band: its band shares x its mid energy x its EQ's band gains. ``(B, S, 3)``."""
    from automix.features import BAND_COLUMNS

    mid, _ = _strip_energies(features.double(), mask, stem_u.double())
    shares = features.double()[..., list(BAND_COLUMNS)].clamp_min(0.0)
    return mid[..., None] * shares * strip_band_gains(stem_u)


def bus_band_shares(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor) -> torch.Tensor:
    """Estimated low/mid/high power shares of the summed strips' mid signal (the band balance's definition).

    Each stem's band shares (features) scaled by its strip's mid energy (level, pan, width: exact for the
    linear stages) and its EQ's power gain at one frequency per band; compression and saturation are left
    out. Shape: features ``(B, S, F)``, mask ``(B, S)``, stem_u ``(B, S, P)`` -> ``(B, 3)``, rows sum to 1.
    """
    return _shares(_strip_band_power(features, mask, stem_u))


def bus_centroid_octaves(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor) -> torch.Tensor:
    """A rough bus centroid cue: the stems' centroids averaged in octaves, weighted by their strips' power.

    ``log2(centroid / 1 kHz)``. Shape: ``(B, S, F)``, ``(B, S)``, ``(B, S, P)`` -> ``(B,)``.
    """
    return _centroid_octaves(features, _strip_band_power(features, mask, stem_u))


def _shares(band_power: torch.Tensor) -> torch.Tensor:
    """``(B, S, 3)`` strip band powers -> ``(B, 3)`` bus band shares."""
    bands = band_power.sum(-2)
    return bands / bands.sum(-1, keepdim=True).clamp_min(1e-12)


def _centroid_octaves(features: torch.Tensor, band_power: torch.Tensor) -> torch.Tensor:
    """The stems' centroids in octaves re 1 kHz, averaged with their strips' power as weights. ``(B,)``."""
    power = band_power.sum(-1)
    octaves = features.double()[..., FEATURE_NAMES.index("spectral_centroid_hz")] * 3.0  # see StemFeatures.vector
    return (power * octaves).sum(-1) / power.sum(-1).clamp_min(1e-12)


def solve_master_width(features, mask, stem_u, style) -> torch.Tensor:
    """Master width (engineering units, clipped to its range) that brings the estimated bus M/S to the style's.

    Shape: ``(B,)``; ``style`` is the normalised style vector ``(B, T)``.
    """
    spec = MASTER_SLOTS[_MASTER_WIDTH].spec
    target = from_normalized("stereo_ms_ratio", style[:, VECTOR_FIELDS.index("stereo_ms_ratio")])
    ratio = bus_ms_ratio(features, mask, stem_u)
    return (target / ratio.clamp_min(target / spec.maximum + 1e-6)).clamp(spec.minimum, spec.maximum)


def tone_cues(features, mask, stem_u, style) -> torch.Tensor:
    """What the tone head reads: how far the estimated bus is from the style, no gradient.

    ``log(estimated share / style share)`` per band and ``log2(estimated centroid / style centroid)``.
    Shape: ``(B, S, F)``, ``(B, S)``, ``(B, S, P)``, normalised style ``(B, T)`` -> ``(B, 4)``.
    """
    with torch.no_grad():
        power = _strip_band_power(features, mask, stem_u.detach())  # the EQ designs, once for both cues
        est = _shares(power)
        low = VECTOR_FIELDS.index("balance_low")  # band fractions are their own normalisation
        want = style[:, low:low + 3].double()
        centroid = from_normalized("spectral_centroid_hz", style[:, VECTOR_FIELDS.index("spectral_centroid_hz")])
        octaves = _centroid_octaves(features, power) - torch.log2(centroid.double() / 1000.0)
        return torch.cat([torch.log(est.clamp_min(1e-4)) - torch.log(want.clamp_min(1e-4)), octaves[:, None]],
                         dim=-1).to(style.dtype)


def logit(u: torch.Tensor) -> torch.Tensor:
    u = u.clamp(_EPS, 1 - _EPS)
    return torch.log(u) - torch.log1p(-u)


class MixingParameterPredictor(nn.Module):
    """Predict unit-interval settings for each stem strip and the master chain.

    Args:
        hidden: widths of the shared per-stem encoder (the original design's 256 -> 256 -> 128).
    """

    def __init__(self, n_features: int = len(FEATURE_NAMES), n_roles: int = len(ROLES),
                 n_style: int = len(VECTOR_FIELDS), n_stem_params: int = len(STEM_SLOTS),
                 n_master_params: int = len(MASTER_SLOTS), hidden: tuple[int, int, int] = (256, 256, 128)):
        super().__init__()
        h1, h2, h3 = hidden
        self.n_roles = n_roles
        self.encoder = nn.Sequential(
            nn.Linear(n_features + n_roles + n_style, h1), nn.GELU(),
            nn.Linear(h1, h2), nn.GELU(),
            nn.Linear(h2, h3), nn.GELU(),
        )
        self.stem_head = nn.Sequential(nn.Linear(h3 + 2 * h3 + n_style, 128), nn.GELU(), nn.Linear(128, n_stem_params))
        self.master_head = nn.Sequential(nn.Linear(2 * h3 + n_style, 128), nn.GELU(), nn.Linear(128, n_master_params))
        # created last, so the modules above draw the same initial weights as before it existed
        self.tone_head = nn.Sequential(nn.Linear(n_style + 4, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(),
                                       nn.Linear(64, len(_MASTER_EQ)))
        for head in (self.stem_head, self.master_head, self.tone_head):
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)

    def forward(self, features: torch.Tensor, roles: torch.Tensor, mask: torch.Tensor, style: torch.Tensor,
                stem_prior: torch.Tensor, master_prior: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict settings.

        Args:
            features: level-invariant stem features, normalised (see :mod:`automix.features`).
            roles: role index per stem (``automix.roles.ROLES``).
            mask: True for real stems, False for padding.
            style: normalised style target vector (``StyleTargets.vector(normalized=True)``).
            stem_prior, master_prior: prior settings as unit values (:mod:`automix.priors`).

        Shape:
            features ``(B, S, F)``, roles ``(B, S)`` long, mask ``(B, S)`` bool, style ``(B, T)``,
            stem_prior ``(B, S, P)``, master_prior ``(B, M)`` -> ``((B, S, P), (B, M))`` in (0, 1).
        """
        b, s, _ = features.shape
        if not 1 <= s <= MAX_STEMS:
            raise ValueError(f"between 1 and {MAX_STEMS} stems, got {s}")
        onehot = nn.functional.one_hot(roles, self.n_roles).to(features.dtype)
        style_s = style[:, None, :].expand(b, s, style.shape[-1])
        phi = self.encoder(torch.cat([features, onehot, style_s], dim=-1))
        m = mask[..., None].to(phi.dtype)
        mean = (phi * m).sum(1) / m.sum(1).clamp_min(1.0)
        maxed = phi.masked_fill(~mask[..., None], float("-inf")).amax(1)
        context = torch.cat([mean, maxed], dim=-1)
        stem_in = torch.cat([phi, context[:, None, :].expand(b, s, -1), style_s], dim=-1)
        stem = torch.sigmoid(logit(stem_prior) + self.stem_head(stem_in))
        width = MASTER_SLOTS[_MASTER_WIDTH].spec.to_unit(solve_master_width(features, mask, stem, style))
        master_prior = torch.cat([master_prior[:, :_MASTER_WIDTH], width[:, None].to(master_prior.dtype),
                                  master_prior[:, _MASTER_WIDTH + 1:]], dim=-1)
        residual = self.master_head(torch.cat([context, style], dim=-1))
        tone = self.tone_head(torch.cat([style, tone_cues(features, mask, stem, style)], dim=-1))
        residual = residual.index_add(1, torch.tensor(_MASTER_EQ), tone)
        master = torch.sigmoid(logit(master_prior) + residual)
        return stem, master

