"""Facts that several modules share, in one place. Plain values only: importing this costs nothing.

Levels are in LUFS (ITU-R BS.1770-4 integrated loudness).
"""
from __future__ import annotations

#: BS.1770-4's absolute gate: blocks below it never count toward integrated loudness
ABSOLUTE_GATE_LUFS = -70.0
#: a stem (or bus) whose integrated loudness is below this, or undefined, is silent: it has no gated block
#: at all, so there is no loudness to normalise it by and it is left at its level
SILENCE_LUFS = ABSOLUTE_GATE_LUFS
#: stems are normalised to this integrated loudness before their chains (level invariance)
REFERENCE_LUFS = -23.0
#: level of the summed strips entering the master chain (a mix bus with headroom): 4 stems or 16,
#: the master compressor's threshold then sits at the same place in the music
BUS_REFERENCE_LUFS = -18.0

#: the two renderers of one settings file: the streaming production graph and its differentiable twin
ENGINES = ("pedalboard", "torch")
DEFAULT_ENGINE = "pedalboard"
