"""Level match: each stem sits at its role's level in the mix, as heard through its own strip.

An engineer sets a fader by listening to the stem in the mix, after its EQ, compressor and
saturation, not by adding up the numbers on the plugins. The predictor's level moves (fader,
make-up, saturation trim) are a guess at that, and a compressor working 2 to 7 dB on one stem and
not at all on the next turns the guess into noise: measured on held-out sessions, the balance comes
out closer to the reference with every stem at its role's level than with the predicted level
moves on top.

So after prediction (and refinement) each stem is rendered soloed through its strip and metered
(integrated loudness, ITU-R BS.1770 as everywhere else), and its fader moves so that the stem lands
at ``REFERENCE_LUFS + role level``, the role level being the style's role balance split among the
stems sharing the role (:func:`automix.priors.role_level_db`). The fader sits after the compressor
and saturation and before pan and width, which are linear, so the strip's loudness moves dB for dB
with it and one measurement is exact.

The move stays inside the engineer's envelope by construction: the strip's level moves (fader +
make-up + trim) are kept within ``+-stem_level_range_db`` of the role level; a stem whose strip
would need more lands at that limit, and :func:`match_levels` says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from automix.envelope import stem_level_db
from automix.priors import role_levels_db
from automix.constants import REFERENCE_LUFS
from automix.settings import GAIN_DECIMALS, MixSettings
from automix.styles import StyleTargets


@dataclass(frozen=True)
class LevelMatch:
    """One stem's level match (dB, LUFS).

    Attributes:
        measured_lufs: the stem soloed through its strip as predicted (``-inf``: below the gate).
        target_lufs: where its role puts it: ``REFERENCE_LUFS`` + the role level.
        fader_change_db: the fader move made (0 for a silent stem).
        limited: the move stopped at the envelope's stem level limit.
    """

    measured_lufs: float
    target_lufs: float
    fader_change_db: float
    limited: bool

    def to_dict(self) -> dict:
        return {"measured_lufs": round(self.measured_lufs, 2) if math.isfinite(self.measured_lufs) else None,
                "target_lufs": round(self.target_lufs, 2), "fader_change_db": round(self.fader_change_db, 2),
                "limited": self.limited}


def role_levels(style: StyleTargets, roles: Sequence[str]) -> list[float]:
    """Each stem's role level (dB re the normalised stem): the style's role balance split per role."""
    return role_levels_db(style.role_balance_db, roles)


def match_levels(settings: MixSettings, roles: Sequence[str], style: StyleTargets, *,
                 threads: int = 1, strips=None) -> list[LevelMatch]:
    """Move every stem's fader (in place) so that the stem, soloed through its strip, sits at its role level.

    Args:
        settings: the session's settings; stems' chains follow ``STEM_CHAIN`` (a ``gain`` stage after the
            compressor and saturation). Changed in place.
        roles: one role per stem.
        strips: a :class:`~automix.strip_cache.StripCache` to meter through (it keeps the pre-fader strips for
            the bus); without one each strip is rendered and metered on the spot.

    Returns:
        One :class:`LevelMatch` per stem, in stem order.
    """
    from automix.engines.pedalboard_engine import strip_loudness

    settings.quantize()  # measured and bounded as written and rendered
    measured = strips.loudness(settings) if strips is not None else strip_loudness(settings, threads=threads)
    limit = style.envelope.stem_level_range_db
    out = []
    for stem, level, lufs in zip(settings.stems, role_levels(style, roles), measured):
        target = REFERENCE_LUFS + level
        params = {p.plugin: p.params for p in stem.chain}
        if not math.isfinite(lufs) or "gain" not in params:
            out.append(LevelMatch(lufs, target, 0.0, False))
            continue
        moves = stem_level_db(params) - level  # the strip's level moves against its role level now
        wanted = target - lufs
        change = min(max(wanted, -limit - moves), limit - moves)
        fader = round(float(params["gain"]["gain_db"]) + change, GAIN_DECIMALS)  # as the settings file writes it
        # a clamped fader rounded outward would leave the level a few thousandths of a dB past the envelope
        step = 10.0 ** -GAIN_DECIMALS
        over = stem_level_db(dict(params, gain={"gain_db": fader})) - level
        fader += -step if over > limit else step if over < -limit else 0.0
        change = fader - float(params["gain"]["gain_db"])
        params["gain"]["gain_db"] = round(fader, GAIN_DECIMALS)
        out.append(LevelMatch(lufs, target, change, abs(change - wanted) > 0.05))
    return out
