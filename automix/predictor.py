"""MixingParameterPredictor: per-stem features + style targets -> settings for every stem and the master.

Architecture (permutation-equivariant over stems, any count from 1 to 64)::

    per stem:  [features (FEATURE_NAMES), role one-hot, style vector] -> 256 -> 256 -> 128   (encoder phi)
    session:   masked mean and max of phi over stems                        (context, 256)
    per stem:  [phi_i, context, style] -> 128 -> P_stem   (residual logits, zero-initialised)
    master:    [context, style]        -> 128 -> P_master (residual logits, zero-initialised)
    tone:      [style, tone_cues] -> 64 -> 64 -> master EQ residual logits (zero-initialised)
               + solve_weight x the master EQ gains solved on the estimated bus (solve_master_tone)
    output:    sigmoid(prior_logits + residual)  in (0, 1), mapped through the plugin specs

The master tone is solved, then corrected. The mean and max over stems do
not weigh a stem by how loud the strips make it, so on their own they cannot
tell a bass-heavy bus from a thin one. :func:`~automix.bus_estimate.strip_octave_power`
estimates the bus in ten octave bands: each stem's octave shares (features), its
predicted level, pan and width (exact for these linear stages), its strip EQ's
power gain at each octave's centre, and its compressor's gain reduction from
the stem's envelope level histogram (:func:`~automix.bus_estimate.compressor_power_gain`,
a static model of the plugin's gain law). :func:`~automix.bus_estimate.solve_master_tone` then finds the
master EQ gains that bring that estimate to the style's band balance (a few
Gauss-Newton steps), and the tone head (:class:`ToneHead`) learns how far to
trust the solve and corrects what the estimate leaves out, above all the
master compressor ahead of the EQ. It is trained in a second, cheap stage
with everything else frozen (see :mod:`automix.train`). On 12 held-out sessions
mixed as ``automix mix`` mixes them, the octave estimate with the compressor
model is off the rendered strips' sum by median 0.052 share, against 0.078
without the compressor model and 0.071 for the three-band estimate it
replaced (``bench/tone_estimate.py``).

The master width is not guessed: its prior is *solved* from the predicted
strips (:func:`~automix.bus_estimate.solve_master_width`). Each stem's channel covariance relative
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

import torch
from torch import nn

from automix.bounds import Bounds, bounded_master, bounded_stems, is_mono, make_bounds
from automix.bus_estimate import (N_TONE_CUES, _MASTER_EQ, _MASTER_TONE_GAINS, _MASTER_WIDTH,
                                  solve_master_width, tone_cues)
from automix.features import FEATURE_NAMES
from automix.layout import MASTER_SLOTS, STEM_SLOTS
from automix.roles import ROLES
from automix.predictor_tuning import ENCODER_HIDDEN, HEAD_HIDDEN, MAX_STEMS, TONE_HIDDEN
from automix.styles import VECTOR_FIELDS, default_envelope



class ToneHead(nn.Module):
    """The master EQ's residual logits from the style and :func:`tone_cues`.

    ``mlp(style, cues)`` over the master EQ slots, plus the solved gain moves scaled per gain by
    ``solve_weight``. Both start at zero, so an untrained head gives the priors and the first training
    stage never sees it; the second stage starts from the solve (:meth:`trust_solve`) and learns how far
    to trust it and what the estimate leaves out (the master compressor ahead of the EQ, the strips'
    ballistics and saturation, spectra inside an octave).
    """

    def __init__(self, n_style: int, hidden: int = TONE_HIDDEN):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_style + N_TONE_CUES, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, len(_MASTER_EQ)))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)
        self.solve_weight = nn.Parameter(torch.zeros(len(_MASTER_TONE_GAINS)))
        #: where each solved gain sits among the master EQ slots
        self.register_buffer("_gain_at", torch.tensor([_MASTER_EQ.index(j) for j in _MASTER_TONE_GAINS]),
                             persistent=False)

    def trust_solve(self) -> None:
        """Take the solved gain moves as they are (``solve_weight`` 1): where the second training stage starts."""
        with torch.no_grad():
            self.solve_weight.fill_(1.0)

    def forward(self, style: torch.Tensor, cues: torch.Tensor, move: torch.Tensor) -> torch.Tensor:
        """Shape: style ``(B, T)``, cues ``(B, N_TONE_CUES)``, move ``(B, 5)`` -> ``(B, len(_MASTER_EQ))``."""
        return self.mlp(torch.cat([style, cues], dim=-1)).index_add(1, self._gain_at, move * self.solve_weight)




class MixingParameterPredictor(nn.Module):
    """Predict unit-interval settings for each stem strip and the master chain.

    Args:
        hidden: widths of the shared per-stem encoder (the original design's 256 -> 256 -> 128).
    """

    def __init__(self, n_features: int = len(FEATURE_NAMES), n_roles: int = len(ROLES),
                 n_style: int = len(VECTOR_FIELDS), n_stem_params: int = len(STEM_SLOTS),
                 n_master_params: int = len(MASTER_SLOTS), hidden: tuple[int, int, int] = ENCODER_HIDDEN):
        super().__init__()
        h1, h2, h3 = hidden
        self.n_roles = n_roles
        self.encoder = nn.Sequential(
            nn.Linear(n_features + n_roles + n_style, h1), nn.GELU(),
            nn.Linear(h1, h2), nn.GELU(),
            nn.Linear(h2, h3), nn.GELU(),
        )
        h = HEAD_HIDDEN
        self.stem_head = nn.Sequential(nn.Linear(h3 + 2 * h3 + n_style, h), nn.GELU(), nn.Linear(h, n_stem_params))
        self.master_head = nn.Sequential(nn.Linear(2 * h3 + n_style, h), nn.GELU(), nn.Linear(h, n_master_params))
        for head in (self.stem_head, self.master_head):
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
        # created last, so the modules above draw the same initial weights as before it existed
        self.tone_head = ToneHead(n_style)

    def forward(self, features: torch.Tensor, roles: torch.Tensor, mask: torch.Tensor, style: torch.Tensor,
                stem_prior: torch.Tensor, master_prior: torch.Tensor, bounds: Bounds | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict settings, inside the engineer's envelope by construction (:mod:`automix.bounds`).

        Args:
            features: level-invariant stem features, normalised (see :mod:`automix.features`).
            roles: role index per stem (``automix.roles.ROLES``).
            mask: True for real stems, False for padding.
            style: normalised style target vector (``StyleTargets.vector(normalized=True)``).
            stem_prior, master_prior: prior settings as unit values (:mod:`automix.priors`).
            bounds: the envelope's boxes (:func:`automix.bounds.make_bounds`); None builds them from the
                default envelope at 48 kHz.

        Shape:
            features ``(B, S, F)``, roles ``(B, S)`` long, mask ``(B, S)`` bool, style ``(B, T)``,
            stem_prior ``(B, S, P)``, master_prior ``(B, M)`` -> ``((B, S, P), (B, M))`` in (0, 1).
        """
        b, s, _ = features.shape
        if not 1 <= s <= MAX_STEMS:
            raise ValueError(f"between 1 and {MAX_STEMS} stems, got {s}")
        onehot = nn.functional.one_hot(roles, self.n_roles).to(features.dtype)
        style_s = style[:, None, :].expand(b, s, style.shape[-1])
        # the encoder reads the level-invariant features; the octave shares after them are the tone estimate's
        phi = self.encoder(torch.cat([features[..., :len(FEATURE_NAMES)], onehot, style_s], dim=-1))
        m = mask[..., None].to(phi.dtype)
        mean = (phi * m).sum(1) / m.sum(1).clamp_min(1.0)
        maxed = phi.masked_fill(~mask[..., None], float("-inf")).amax(1)
        context = torch.cat([mean, maxed], dim=-1)
        stem_in = torch.cat([phi, context[:, None, :].expand(b, s, -1), style_s], dim=-1)
        if bounds is None:
            bounds = make_bounds([default_envelope()] * b, is_mono(features, default_envelope()), stem_prior)
        stem = bounded_stems(stem_prior, self.stem_head(stem_in), bounds, mask).to(stem_prior.dtype)
        width = MASTER_SLOTS[_MASTER_WIDTH].spec.to_unit(solve_master_width(features, mask, stem, style))
        master_prior = torch.cat([master_prior[:, :_MASTER_WIDTH], width[:, None].to(master_prior.dtype),
                                  master_prior[:, _MASTER_WIDTH + 1:]], dim=-1)
        residual = self.master_head(torch.cat([context, style], dim=-1))
        before_tone = bounded_master(master_prior, residual, bounds).to(master_prior.dtype)
        box = (bounds.master_lo[:, list(_MASTER_TONE_GAINS)], bounds.master_hi[:, list(_MASTER_TONE_GAINS)])
        tone = self.tone_head(style, *tone_cues(features, mask, stem, before_tone, style, box))
        residual = residual.index_add(1, torch.tensor(_MASTER_EQ), tone)
        master = bounded_master(master_prior, residual, bounds).to(master_prior.dtype)
        return stem, master

