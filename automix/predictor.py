"""MixingParameterPredictor: per-stem features + style targets -> settings for every stem and the master.

Architecture (permutation-equivariant over stems, any count from 1 to 64)::

    per stem:  [features, role one-hot, style vector] -> 256 -> 256 -> 128   (shared encoder phi)
    session:   masked mean and max of phi over stems                        (context, 256)
    per stem:  [phi_i, context, style] -> 128 -> P_stem   (residual logits, zero-initialised)
    master:    [context, style]        -> 128 -> P_master (residual logits, zero-initialised)
    output:    sigmoid(prior_logits + residual)  in (0, 1), mapped through the plugin specs

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


def bus_ms_ratio(features: torch.Tensor, mask: torch.Tensor, stem_u: torch.Tensor) -> torch.Tensor:
    """Estimated ``RMS(S) / RMS(M)`` of the summed strips (loudness-normalised stems, ``stem_u`` settings).

    Exact for the strips' linear stages and uncorrelated stems; compression and saturation
    drive are left out. Shape: features ``(B, S, F)``, mask ``(B, S)``, stem_u ``(B, S, P)`` -> ``(B,)``.
    """
    e_l, e_r, e_lr = stereo_energies(features)
    level_db = sum(STEM_SLOTS[j].spec.from_unit(stem_u[..., j]) for j in _STEM_LEVEL_DB)
    g = torch.pow(10.0, level_db / 10.0) * mask.to(stem_u.dtype)
    theta = (STEM_SLOTS[_STEM_PAN].spec.from_unit(stem_u[..., _STEM_PAN]) + 1.0) * (math.pi / 4.0)
    gl2, gr2, glr = 2 * torch.cos(theta) ** 2, 2 * torch.sin(theta) ** 2, 2 * torch.cos(theta) * torch.sin(theta)
    w = STEM_SLOTS[_STEM_WIDTH].spec.from_unit(stem_u[..., _STEM_WIDTH])
    direct = gl2 * e_l + gr2 * e_r
    mid = (g * (direct + 2 * glr * e_lr)).sum(-1)
    side = (g * w * w * (direct - 2 * glr * e_lr)).sum(-1)
    return torch.sqrt(side.clamp_min(0.0) / mid.clamp_min(1e-12))


def solve_master_width(features, mask, stem_u, style) -> torch.Tensor:
    """Master width (engineering units, clipped to its range) that brings the estimated bus M/S to the style's.

    Shape: ``(B,)``; ``style`` is the normalised style vector ``(B, T)``.
    """
    spec = MASTER_SLOTS[_MASTER_WIDTH].spec
    target = from_normalized("stereo_ms_ratio", style[:, VECTOR_FIELDS.index("stereo_ms_ratio")])
    ratio = bus_ms_ratio(features, mask, stem_u)
    return (target / ratio.clamp_min(target / spec.maximum + 1e-6)).clamp(spec.minimum, spec.maximum)


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
        for head in (self.stem_head, self.master_head):
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
        master = torch.sigmoid(logit(master_prior) + self.master_head(torch.cat([context, style], dim=-1)))
        return stem, master
