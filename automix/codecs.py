"""Lossy delivery encodes (MP3, AAC, Opus) and their decoded true peaks.

A lossy encoder removes what it cannot hear, and the waveform it rebuilds overshoots the master's peaks: a
master at -1 dBTP often decodes above it. ``--codec-check`` encodes each delivered master, decodes it,
meters the decode's 4x true peak, and where that exceeds the ceiling the mixer lowers the limiter's ceiling
by the overshoot and masters again (:func:`automix.mixer.codec_safe`), until every decode meets it.

The encoders are FFmpeg's, through PyAV (its wheels carry FFmpeg with LAME, FFmpeg's own AAC encoder and
libopus, so nothing is installed beside pip): MP3 at 320 kbit/s (LAME), AAC-LC at 256 kbit/s in an
``.m4a`` (the rate the big stores deliver; perceptual noise substitution and intensity stereo off, see
:data:`CODECS`), Opus at 160 kbit/s in ``.opus`` (48 kHz, converted with soxr
first, as Opus only runs at 48 kHz).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automix.errors import UsageError


@dataclass(frozen=True)
class Codec:
    name: str
    encoder: str
    suffix: str
    container: str
    bit_rate: int
    rate: int | None  # the only rate the codec runs at, or None (the master's)
    options: tuple[tuple[str, str], ...] = ()  # the encoder's private options


CODECS = {
    "mp3": Codec("mp3", "libmp3lame", ".mp3", "mp3", 320_000, None),
    # PNS (a band rebuilt as noise of its energy) and intensity stereo (one channel rebuilt from the other) are
    # low-bit-rate tools that give up the waveform; FFmpeg's encoder uses them by default even at 256 kbit/s,
    # where a store's encode spends the bits on the waveform, and its decodes then peak up to 3.6 dB over a
    # -1 dBTP master (a quarter of our held-out rock masters) against 0.5-1.8 dB with both off
    "aac": Codec("aac", "aac", ".m4a", "ipod", 256_000, None, (("aac_pns", "0"), ("aac_is", "0"))),
    "opus": Codec("opus", "libopus", ".opus", "opus", 160_000, 48000),
}


def parse_codecs(text: str | None) -> list[Codec]:
    """``"mp3,aac"`` -> the codecs (a usage error names the valid ones)."""
    if not text:
        return []
    names = [n.strip().lower() for n in str(text).split(",") if n.strip()]
    for n in names:
        if n not in CODECS:
            raise UsageError(f"unknown codec {n!r} for --codec-check; choose from {', '.join(CODECS)}")
    return [CODECS[n] for n in dict.fromkeys(names)]


def encoded_path(master: str | os.PathLike, codec: Codec) -> Path:
    """Where a master's encode goes: beside it, same name, the codec's extension."""
    return Path(master).with_suffix(codec.suffix)


def encode(master: str | os.PathLike, out: str | os.PathLike, codec: Codec) -> None:
    """Encode the audio file ``master`` to ``out`` (written under a temporary name, then moved in place)."""
    import av
    import soundfile as sf

    x, sr = sf.read(str(master), dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x.T)
    if codec.rate is not None and sr != codec.rate:
        import soxr

        x = np.ascontiguousarray(soxr.resample(x.T, sr, codec.rate, quality="VHQ").T.astype(np.float32))
        sr = codec.rate
    out = Path(out)
    tmp = out.with_name(f"{out.stem}.{os.urandom(6).hex()}.partial{out.suffix}")
    try:
        with av.open(str(tmp), mode="w", format=codec.container) as container:
            stream = container.add_stream(codec.encoder, rate=sr, layout="stereo")
            stream.bit_rate = codec.bit_rate
            stream.codec_context.options = dict(codec.options)
            fifo = av.AudioFifo()
            frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="stereo")
            frame.sample_rate = sr
            fifo.write(frame)
            size = stream.codec_context.frame_size or 1024
            while fifo.samples:
                chunk = fifo.read(min(size, fifo.samples))
                for packet in stream.encode(chunk):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def decode(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A lossy file decoded: ``((2, n) float64, sample rate)``."""
    import av

    parts = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            parts.append(frame.to_ndarray().astype(np.float64).reshape(-1, frame.samples))
    x = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0))
    return (x if x.shape[0] == 2 else np.repeat(x[:1], 2, axis=0)), rate


def decoded_true_peak(path: str | os.PathLike) -> float:
    """The 4x-oversampled true peak (dBTP) of a decoded lossy file (the meters' BS.1770 true-peak meter)."""
    from automix.meters import StreamingMeter

    x, rate = decode(path)
    meter = StreamingMeter(rate, 2, spectral=False)
    meter.process(x)
    return meter.result()["true_peak_dbtp"]
