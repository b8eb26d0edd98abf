"""MixingParameterPredictor: per-stem features + style targets -> settings for every stem and the master.

Architecture (permutation-equivariant over stems, any count from 1 to 64)::

    per stem:  [features, role one-hot, style vector] -> 256 -> 256 -> 128   (shared encoder phi)
    session:   masked mean and max of phi over stems                        (context, 256)
    per stem:  [phi_i, context, style] -> 128 -> P_stem   (residual logits, zero-initialised)
    master:    [context, style]        -> 128 -> P_master (residual logits, zero-initialised)
    output:    sigmoid(prior_logits + residual)  in (0, 1), mapped through the plugin specs

Stems only interact through symmetric pooling, so permuting the stems
permutes the outputs. The style vector conditions every layer, so custom
targets work without retraining. With zero-initialised heads the output is
exactly the priors of :mod:`automix.priors` (style + roles): sensible
settings before any training.
"""
from __future__ import annotations

import torch
from torch import nn

from automix.features import FEATURE_NAMES
from automix.layout import MASTER_SLOTS, STEM_SLOTS
from automix.roles import ROLES
from automix.styles import VECTOR_FIELDS

MAX_STEMS = 64
_EPS = 1e-4


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
        master = torch.sigmoid(logit(master_prior) + self.master_head(torch.cat([context, style], dim=-1)))
        return stem, master
