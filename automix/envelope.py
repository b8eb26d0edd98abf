"""The engineer's envelope: how far automix may move each control before a mix stops being one an engineer signs.

A mix can meet every number with moves nobody would make: a +13 dB boost, two EQ
sections undoing each other, a mono vocal "widened", the bass 10 dB over its
place. The envelope is data (``styles/envelope.yaml`` holds the shared default;
a style's ``envelope:`` mapping overrides any field), and every stage that
chooses a move keeps it inside by construction: the predictor maps its outputs
into the envelope's box, the refinement optimises in that box, the master EQ
search and the master loop search within it. Where a soft target needs more,
the mix stops at the limit and the report says which limit bound it.

Definitions (every gain in dB, every frequency in Hz):

- **Stem EQ**: each peak's gain in ``[stem_eq_cut_min_db, stem_eq_boost_max_db]``,
  each shelf's within ``+-stem_shelf_max_abs_db``. The *net response* of the
  shelves and peaks (the high-pass left out), read on :data:`NET_GRID_HZ`
  (log-spaced from ``net_from_hz`` to ``net_to_hz``), stays within
  ``[stem_eq_net_min_db, stem_eq_net_max_db]``. *Fighting* is the sum of the
  sections' absolute gains minus the net response's range (max - min): 0 when
  sections never overlap in opposite directions; at most ``stem_eq_fight_max_db``.
- **Stem level**: the stem's fader (``gain.gain_db``) within
  ``+-stem_level_range_db`` of its role's prior (the style's role balance).
- **Width**: stems in ``[0, stem_width_max]``; a stem whose side is
  ``mono_side_floor_db`` or more below its mid keeps exactly 1.0; the master in
  ``[master_width_min, master_width_max]``.
- **Pan**: stems of ``centre_roles`` within ``+-centre_pan_max``.
- **Saturation**: stem drive at most ``stem_drive_max_db``.
- **Master EQ**: peaks within ``+-master_peak_max_abs_db``, shelves within
  ``+-master_shelf_max_abs_db``, net response within ``+-master_eq_net_max_abs_db``.
- **Mono fold-down**: playing the master as ``(L+R)/2`` on both channels loses at
  most ``mono_folddown_loss_max_lu`` of integrated loudness.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np

__all__ = ["Envelope", "ENVELOPE_FIELDS", "NET_GRID_POINTS", "net_grid_hz"]

#: points of the log-spaced grid the EQ's net response is read on
NET_GRID_POINTS = 96


@dataclass(frozen=True)
class Envelope:
    """Limits of the moves automix makes (see the module docstring for each definition)."""

    stem_eq_boost_max_db: float = 6.0
    stem_eq_cut_min_db: float = -12.0
    stem_shelf_max_abs_db: float = 6.0
    stem_eq_net_min_db: float = -12.0
    stem_eq_net_max_db: float = 6.0
    stem_eq_fight_max_db: float = 3.0
    net_from_hz: float = 40.0
    net_to_hz: float = 16000.0
    stem_level_range_db: float = 4.0
    stem_width_max: float = 1.5
    mono_side_floor_db: float = -40.0
    master_width_min: float = 0.8
    master_width_max: float = 1.3
    centre_pan_max: float = 0.1
    centre_roles: tuple[str, ...] = ("kick", "snare", "bass", "vocal")
    stem_drive_max_db: float = 6.0
    master_peak_max_abs_db: float = 3.0
    master_shelf_max_abs_db: float = 4.0
    master_eq_net_max_abs_db: float = 4.0
    mono_folddown_loss_max_lu: float = 3.0

    def __post_init__(self):
        object.__setattr__(self, "centre_roles", tuple(self.centre_roles))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["centre_roles"] = list(self.centre_roles)
        return out

    def replace(self, overrides: Mapping[str, Any]) -> "Envelope":
        """A copy with some fields overridden (values already validated)."""
        return Envelope(**{**asdict(self), **dict(overrides)})

    @property
    def max_ms_for_folddown(self) -> float:
        """The largest master M/S ratio whose mono fold-down loses at most ``mono_folddown_loss_max_lu``.

        Folding to ``(L+R)/2`` keeps the mid and drops the side, so a mix of M/S ratio ``r`` loses
        ``10 log10(1 + r^2)`` dB of power (and of K-weighted loudness, band by band, to the extent the
        side shares the mid's spectrum).
        """
        return float(np.sqrt(10.0 ** (self.mono_folddown_loss_max_lu / 10.0) - 1.0))


#: field names in definition order (the YAML schema's keys)
ENVELOPE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Envelope))


def net_grid_hz(envelope: Envelope) -> np.ndarray:
    """The log-spaced frequencies (Hz) where the EQ's net response is read, ``(NET_GRID_POINTS,)``."""
    return np.geomspace(envelope.net_from_hz, envelope.net_to_hz, NET_GRID_POINTS)
