"""The last stage before a master is written: sample-rate conversion and word length (with dither).

A master is made at the session's rate in float; :class:`Finisher` converts it to the delivered format as it
streams to the file, so the meters that judge the master (loudness, 4x true peak) read exactly what the file
holds:

1. sample-rate conversion, when another rate is asked for, with soxr's ``VHQ`` (very high quality) linear-phase
   resampler (:data:`RESAMPLER`), streamed;
2. for 16 bit, TPDF dither of +-1 LSB (the sum of two uniform variables, a triangular density, which
   decorrelates the rounding error from the music) and rounding to the 16-bit grid here, so the file's
   writer converts exact values. The dither comes from a seeded generator: the same master gives the same
   bytes. It is added after the limiter, so the true-peak check includes it (at most 1 LSB, -90 dBFS);
3. 24 bit is rounded by the writer (its rounding error is at -144 dBFS); 32-bit float is written as is.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automix.errors import OutputError

#: the resampler every rate conversion uses
RESAMPLER = "soxr VHQ"
#: word lengths and the libsndfile subtype each is written as
SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
#: what each container can hold
CONTAINER_BITS = {".wav": ("16", "24", "32f"), ".flac": ("16", "24"), ".aif": ("16", "24", "32f"),
                  ".aiff": ("16", "24", "32f")}
RATES = (44100, 48000, 88200, 96000, 176400, 192000)
_FULL_SCALE_16 = 32767.0  # libsndfile's float -> 16-bit scale


@dataclass(frozen=True)
class OutputFormat:
    """A delivered master's word length (``"16"``, ``"24"``, ``"32f"``) and rate (Hz; ``None``: the session's)."""

    bits: str = "24"
    rate: int | None = None

    @property
    def subtype(self) -> str:
        return SUBTYPES[self.bits]

    def describe(self, session_rate: int) -> str:
        rate = self.rate or session_rate
        bits = "32-bit float" if self.bits == "32f" else f"{self.bits}-bit"
        extra = [f"{RESAMPLER} from {session_rate} Hz"] if rate != session_rate else []
        if self.bits == "16":
            extra.append("TPDF dither")
        return f"{bits} {rate} Hz" + (f" ({', '.join(extra)})" if extra else "")


def check_format(path: str | os.PathLike, fmt: OutputFormat) -> None:
    """Raise :class:`OutputError` (before any work) unless ``path``'s container can hold ``fmt``."""
    suffix = Path(path).suffix.lower()
    if fmt.bits not in SUBTYPES:
        raise OutputError(f"{path}: {fmt.bits!r} is not a word length automix writes; choose 16, 24 or 32f")
    allowed = CONTAINER_BITS.get(suffix)
    if allowed is not None and fmt.bits not in allowed:
        what = "32-bit float" if fmt.bits == "32f" else f"{fmt.bits}-bit"
        raise OutputError(f"{path}: {suffix} cannot hold {what} audio; choose --bits {' or '.join(allowed)}, "
                          "or a .wav file")
    if fmt.rate is not None and fmt.rate not in RATES:
        raise OutputError(f"{path}: {fmt.rate} Hz is not a delivery rate; choose one of "
                          f"{', '.join(str(r) for r in RATES)}")


class Finisher:
    """Streams a master ``(2, n)`` float32 at ``in_rate`` into ``fmt`` (see the module docstring); the output
    blocks are float32 on the delivered grid. ``flush()`` returns what the resampler still holds."""

    def __init__(self, in_rate: int, fmt: OutputFormat, seed: int = 0):
        self.fmt = fmt
        self.out_rate = fmt.rate or in_rate
        self._stream = None
        if self.out_rate != in_rate:
            import soxr

            self._stream = soxr.ResampleStream(in_rate, self.out_rate, 2, dtype="float32", quality="VHQ")
        self._rng = np.random.Generator(np.random.PCG64(seed)) if fmt.bits == "16" else None

    def process(self, block: np.ndarray) -> np.ndarray:
        if self._stream is not None:
            block = np.ascontiguousarray(self._stream.resample_chunk(np.ascontiguousarray(block.T), last=False).T)
        return self._word(block)

    def flush(self) -> np.ndarray:
        if self._stream is None:
            return np.zeros((2, 0), np.float32)
        tail = self._stream.resample_chunk(np.zeros((0, 2), np.float32), last=True)
        return self._word(np.ascontiguousarray(tail.T))

    def _word(self, block: np.ndarray) -> np.ndarray:
        if self._rng is None or block.shape[1] == 0:
            return block.astype(np.float32, copy=False)
        tpdf = self._rng.random(block.shape) - self._rng.random(block.shape)  # triangular on (-1, 1) LSB
        q = np.clip(np.round(block.astype(np.float64) * _FULL_SCALE_16 + tpdf), -32768.0, 32767.0)
        return (q / _FULL_SCALE_16).astype(np.float32)
