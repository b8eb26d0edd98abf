"""Saturation: parallel tanh drive with dry/wet mix and output trim.

``y = trim * ((1 - mix) * x + mix * tanh(x * drive))`` with
``drive = 10^(drive_db/20)`` and ``trim = 10^(trim_db/20)``.

Twin: ``pedalboard.Mix([Gain(dry_db), Chain([Distortion(drive_db), Gain(wet_db)])])``
then ``Gain(trim_db)`` (run as one pass of the same float32 operations, :mod:`automix.kernels.saturate`), where ``dry_db = 20*log10(1 - mix)`` and
``wet_db = 20*log10(mix)`` (JUCE's Gain treats <= -100 dB as silence, so
``mix = 0`` is an exact bypass and the default is transparent; the twin then
builds only the trim ``Gain``, which is the same arithmetic). JUCE's
Distortion alone has no makeup and no dry/wet, hence the wrapper.
Differentiable in all three parameters; bit-exact on float32 (the tanh values are libm ``tanhf``,
which numba calls, with torch.tanh supplying the gradient).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING


from automix.dsp import as_batch_param
from automix.plugins.gain import gain
from automix.plugins.spec import ParamSpec, Plugin, _is_tensor, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(
    ParamSpec("drive_db", 0.0, 36.0, 6.0, "linear", "gain into the tanh shaper"),
    ParamSpec("mix", 0.0, 1.0, 0.0, "linear", "wet share: 0 bypass (default), 1 fully saturated"),
    ParamSpec("trim_db", -24.0, 12.0, 0.0, "linear", "output level after the dry/wet sum"),
)

_SILENT_DB = -200.0


def _mix_db(share):
    """20*log10(share), with silence (-200 dB) at share <= 0; float or tensor."""
    if _is_tensor(share):
        import torch

        return torch.where(share > 0, 20.0 * torch.log10(share.clamp_min(1e-12)), torch.full_like(share, _SILENT_DB))
    return 20.0 * math.log10(share) if share > 0 else _SILENT_DB


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh; for float32 the C library's ``tanhf`` values (as pedalboard) with torch's gradient."""
    import torch

    from automix.kernels.juce_math import tanh_f32

    y = torch.tanh(x)
    if x.dtype != torch.float32 or x.numel() == 0:
        return y
    exact = torch.from_numpy(tanh_f32(x.detach().cpu().numpy())).to(x.device)
    return y + (exact - y).detach()


def saturation(x: torch.Tensor, sample_rate: int, *, drive_db, mix, trim_db) -> torch.Tensor:
    """Parallel saturation.

    Shape: x ``(batch, channels, samples)`` -> same.
    """
    m = as_batch_param(mix, x.shape[0], device=x.device)
    wet = gain(_tanh(gain(x, sample_rate, gain_db=drive_db)), sample_rate, gain_db=_mix_db(m))
    dry = gain(x, sample_rate, gain_db=_mix_db(1.0 - m))
    return gain(dry + wet, sample_rate, gain_db=trim_db)


def branch_gains_db(mix: float) -> tuple[float, float] | None:
    """The production graph's dry and wet branch gains (dB) for ``mix``; ``None`` where the saturation is a bypass
    (``mix <= 0``): bit for bit, the dry branch is x * 1 and the wet one tanh(.) * 0 (JUCE's Gain is 0 at
    -200 dB), so only the trim gain runs (skipping the tanh saves ~0.2 s per 180 s stereo)."""
    return None if mix <= 0.0 else (_mix_db(1.0 - mix), _mix_db(mix))


def build(sample_rate: int, *, drive_db: float, mix: float, trim_db: float) -> list:
    import pedalboard  # here, not at import: the specs (styles, settings, CLI) load without it

    branches = branch_gains_db(mix)
    if branches is None:
        return [pedalboard.Gain(gain_db=trim_db)]
    from automix.dsp import LIBM_EXACT

    if LIBM_EXACT:  # the same graph in one pass (automix.kernels.saturate), where numba's tanhf is the C library's
        from automix.kernels.saturate import Saturate

        dry_db, wet_db = branches
        return [Saturate(dry_db, drive_db, wet_db, trim_db)]
    return pedalboard_graph(drive_db=drive_db, mix=mix, trim_db=trim_db)


def pedalboard_graph(*, drive_db: float, mix: float, trim_db: float) -> list:
    """pedalboard's graph for the saturation (the reference its one-pass production stage is tested on)."""
    import pedalboard

    parallel = pedalboard.Mix([
        pedalboard.Gain(gain_db=_mix_db(1.0 - mix)),
        pedalboard.Chain([pedalboard.Distortion(drive_db=drive_db), pedalboard.Gain(gain_db=_mix_db(mix))]),
    ])
    return [parallel, pedalboard.Gain(gain_db=trim_db)]


PLUGIN = Plugin("saturation", PARAMS, saturation, build,
                doc="Parallel tanh saturation: drive, dry/wet mix, trim (pedalboard Mix/Distortion/Gain).")
