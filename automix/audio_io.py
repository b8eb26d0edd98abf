"""Reading stems safely and writing outputs atomically.

Everything a user can drop in a session folder passes through :func:`probe`
before any DSP: it names the file, the problem and the fix, with a stable
code. Reading is streaming (:class:`StemReader`) so memory does not grow with
duration; both engines read through the same code, so they see the same
samples (including resampling, done by pedalboard's ``StreamResampler``,
which is block-size independent).

Conventions: arrays are ``(channels, samples)`` float32; every stem leaves
here as stereo (mono is duplicated to dual mono). Float stems peaking above
0 dBFS are legal and are not clipped.
"""
from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from automix.errors import OutputError, SessionError, check_exists

#: formats we read; mp3/ogg are decoded by libsndfile (no encoder-delay offset)
AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".mp3", ".ogg")
LOSSY_EXTENSIONS = (".mp3", ".ogg")
#: what a mix or render can be written as: lossless formats libsndfile writes at 24-bit or float
OUTPUT_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff")
#: the file's "software" string in every mix and render automix writes (RIFF INFO, AIFF, FLAC comment), so a
#: mix written into a session folder is never taken for a stem on the next run
OUTPUT_TAG_PREFIX = "automix "


def output_tag() -> str:
    from automix import __version__

    return OUTPUT_TAG_PREFIX + __version__


def check_output_format(path: str | os.PathLike) -> None:
    """Raise :class:`OutputError` (``E_OUTPUT``) unless ``path`` names a format automix writes: checked before any
    work, so a wrong extension costs nothing."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_EXTENSIONS:
        what = f"'{suffix}'" if suffix else "no extension"
        raise OutputError(f"{path}: cannot write {what}; name the output .wav, .flac or .aiff (encode to lossy "
                          "formats from that master)")


def written_by_automix(path: str | os.PathLike) -> str | None:
    """Why the audio file ``path`` is one of automix's own outputs, or None: a ``.settings.json`` or
    ``.report.json`` sidecar of the same name beside it, or automix's tag in its header (read without
    reading any samples)."""
    p = Path(path)
    for suffix in (".settings.json", ".report.json", ".views.json"):
        if p.with_suffix(suffix).is_file():
            return f"{p.with_suffix(suffix).name} beside it"
    try:
        with sf.SoundFile(str(p)) as f:
            software = f.software or ""
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None  # unreadable files are the stem checks' business, with their own codes
    return "automix's tag in its header" if software.startswith(OUTPUT_TAG_PREFIX) else None
BLOCK_FRAMES = 65536
MIN_DURATION_S = 0.4  # BS.1770 needs one 400 ms gating block


@dataclass(frozen=True)
class StemInfo:
    """What :func:`probe` learned about a stem file (no samples read)."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class _DataChunk:
    """Where a WAV/RF64/AIFF file's samples are: ``offset`` (bytes from the file's start), the bytes the
    header ``declared`` and the bytes ``available`` from the offset on; ``form`` is ``b"WAVE"``, ``b"AIFF"``
    or ``b"AIFC"``."""

    offset: int
    declared: int
    available: int
    form: bytes


def _data_chunk(path: str) -> _DataChunk | None:
    """The sample data of a WAV/RF64/AIFF file, or None if not such a file.

    libsndfile silently returns the shorter data of a truncated file (and pedalboard zero-pads it), so the only
    way to notice is to compare the size the header declares with the bytes actually present.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12:
            return None
        riff, form = head[:4], head[8:12]
        if riff in (b"RIFF", b"RF64") and form == b"WAVE":
            endian, is_aiff = "<", False
        elif riff == b"FORM" and form in (b"AIFF", b"AIFC"):
            endian, is_aiff = ">", True
        else:
            return None
        ds64_data = None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, csize = struct.unpack(endian + "4sI", f.read(8))
            if cid == b"ds64":
                ds64_data = struct.unpack("<Q", f.read(16)[8:16])[0]
            if cid == b"data" or (is_aiff and cid == b"SSND"):
                declared = ds64_data if (csize == 0xFFFFFFFF and ds64_data is not None) else csize
                offset = pos + 8
                if is_aiff:  # SSND starts with its own offset and block size; the samples follow them
                    skip = struct.unpack(">I", f.read(4))[0] if pos + 12 <= size else 0
                    offset += 8 + skip
                    declared -= 8 + skip
                return _DataChunk(offset, declared, max(size - offset, 0), form)
            pos += 8 + csize + (csize & 1)
        return _DataChunk(size, 0, 0, form)  # no data chunk: no samples


#: bytes per sample of the integer PCM subtypes :class:`StemReader` decodes itself
_PCM_WIDTHS = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4}


def probe(path: str | os.PathLike) -> StemInfo:
    """Validate a stem without reading its samples.

    Raises:
        SessionError: ``E_MISSING`` (no such file), ``E_UNREADABLE`` (not audio
            libsndfile can decode), ``E_EMPTY`` (no frames), ``E_TRUNCATED``
            (header declares more data than the file holds), ``E_CHANNELS``
            (more than 2 channels), ``E_TOO_SHORT`` (under 0.4 s).
    """
    p = str(path)
    check_exists(p)
    if not os.path.isfile(p):
        raise SessionError(f"{p}: not a regular file; point at an audio file", code="E_UNREADABLE")
    if os.path.getsize(p) == 0:
        raise SessionError(f"{p}: file is empty (0 bytes); re-export the stem", code="E_EMPTY")
    try:
        info = sf.info(p)
    except Exception:
        raise SessionError(
            f"{p}: not a readable audio file (WAV/FLAC/AIFF expected); re-export the stem",
            code="E_UNREADABLE",
        ) from None
    chunk = _data_chunk(p)
    if info.frames == 0 or (chunk is not None and chunk.declared == 0 and chunk.available == 0):
        raise SessionError(f"{p}: holds no audio frames (header only); re-export the stem", code="E_EMPTY")
    if chunk is not None and chunk.declared > chunk.available + 1:
        pct = 100.0 * chunk.available / max(chunk.declared, 1)
        raise SessionError(
            f"{p}: truncated: header declares {chunk.declared} data bytes but only {chunk.available} are present "
            f"({pct:.0f}%); copy or export the file again",
            code="E_TRUNCATED",
        )
    if info.channels > 2:
        raise SessionError(
            f"{p}: has {info.channels} channels; automix takes mono or stereo stems, "
            "export this one as stereo (or split it into mono stems)",
            code="E_CHANNELS",
        )
    if info.frames / info.samplerate < MIN_DURATION_S:
        raise SessionError(
            f"{p}: only {info.frames / info.samplerate:.3f} s long; stems need at least {MIN_DURATION_S} s",
            code="E_TOO_SHORT",
        )
    return StemInfo(p, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def output_frames(info: StemInfo, sample_rate: int) -> int:
    """Frames the stem spans at ``sample_rate`` (the resampler's exact output count)."""
    if info.sample_rate == sample_rate:
        return info.frames
    return int(np.ceil(info.frames * sample_rate / info.sample_rate))


class StemReader:
    """Stream a stem as stereo float32 blocks at ``sample_rate``.

    Every block is checked for NaN/inf (one NaN poisons compressor state and
    the limiter turns it into full-scale garbage). After the file ends the
    reader yields zeros, so stems of different lengths sum without special
    cases.

    Usage::

        with StemReader(info, 44100) as r:
            block = r.read(65536)   # (2, 65536) float32
    """

    def __init__(self, info: StemInfo, sample_rate: int):
        self.info = info
        self.sample_rate = int(sample_rate)
        self._file: sf.SoundFile | None = None
        self._raw = None  # the file itself when its integer PCM is decoded here (see _pcm_layout)
        self._resampler = None
        self._pending = np.zeros((2, 0), dtype=np.float32)
        self._source_done = False

    def _pcm_layout(self) -> tuple[int, int, bool] | None:
        """``(data offset, bytes per sample, big-endian)`` when the stem is plain integer PCM in a WAV/RF64
        (little-endian) or AIFF (big-endian) file: then :mod:`automix.kernels.pcm` decodes it, the same floats
        as libsndfile's in about a tenth of the time. None for everything else (FLAC, float, 8-bit, AIFC), which
        libsndfile decodes."""
        width = _PCM_WIDTHS.get(self.info.subtype)
        if width is None:
            return None
        chunk = _data_chunk(self.info.path)
        if chunk is None or chunk.form == b"AIFC" or chunk.available == 0:
            return None
        return chunk.offset, width, chunk.form == b"AIFF"

    def __enter__(self) -> "StemReader":
        layout = self._pcm_layout()
        try:
            if layout is None:
                self._file = sf.SoundFile(self.info.path)
            else:
                self._raw = open(self.info.path, "rb")
                self._raw.seek(layout[0])
                self._layout, self._left = layout, self.info.frames
        except Exception:
            raise SessionError(f"{self.info.path}: could not be opened for reading", code="E_UNREADABLE") from None
        if self.info.sample_rate != self.sample_rate:
            from pedalboard.io import StreamResampler

            self._resampler = StreamResampler(self.info.sample_rate, self.sample_rate, 2)
        return self

    def __exit__(self, *exc) -> None:
        for f in (self._file, self._raw):
            if f is not None:
                f.close()

    def _pull_pcm(self, frames: int) -> np.ndarray:
        from automix.kernels.pcm import decode_pcm

        _, width, big_endian = self._layout
        stride = width * self.info.channels
        raw = np.empty(min(frames, self._left) * stride, dtype=np.uint8)
        got = self._raw.readinto(raw) // stride  # a file cut short ends early, as libsndfile's read does
        self._left = 0 if got * stride < raw.size else self._left - got
        block = np.empty((2, got), dtype=np.float32)
        decode_pcm(raw[:got * stride], self.info.channels, width, big_endian, block)
        return block

    def _pull(self, frames: int) -> np.ndarray:
        if self._raw is not None:
            return self._pull_pcm(frames)
        try:
            raw = self._file.read(frames, dtype="float32", always_2d=True)
        except Exception as e:  # corrupt FLAC/OGG frames surface only while decoding
            raise SessionError(
                f"{self.info.path}: decoding failed mid-file ({e}); the file is corrupt or truncated, export it again",
                code="E_TRUNCATED",
            ) from None
        if raw.size and not np.isfinite(raw).all():
            raise SessionError(
                f"{self.info.path}: contains NaN or infinite samples; fix or re-export the stem",
                code="E_NONFINITE",
            )
        block = raw.T
        if block.shape[0] == 1:
            block = np.repeat(block, 2, axis=0)
        return np.ascontiguousarray(block)

    def read(self, frames: int) -> np.ndarray:
        """Return exactly ``frames`` stereo frames (zeros after the end)."""
        while self._pending.shape[1] < frames and not self._source_done:
            block = self._pull(max(frames, BLOCK_FRAMES))
            if block.shape[1] == 0:
                self._source_done = True
                if self._resampler is not None:
                    tail = self._resampler.process(None)
                    self._pending = np.concatenate([self._pending, tail.astype(np.float32)], axis=1)
                break
            if self._resampler is not None:
                block = self._resampler.process(block).astype(np.float32)
            self._pending = np.concatenate([self._pending, block], axis=1) if self._pending.shape[1] else block
        out = self._pending[:, :frames]
        self._pending = self._pending[:, frames:]
        if out.shape[1] < frames:
            out = np.concatenate([out, np.zeros((2, frames - out.shape[1]), np.float32)], axis=1)
        return out


def read_stem(info: StemInfo, sample_rate: int, frames: int | None = None) -> np.ndarray:
    """Read a whole stem as ``(2, frames)`` float32 at ``sample_rate`` (zero-padded)."""
    n = output_frames(info, sample_rate) if frames is None else frames
    with StemReader(info, sample_rate) as r:
        return r.read(n)


class AtomicWriter:
    """Write an audio file under a temporary name and move it in place on success.

    ``tag`` (:func:`output_tag` for mixes and renders) goes into the header's "software" string.
    The temp file sits in the destination folder and keeps the extension
    (``name.<uuid>.partial.wav``) so libsndfile picks the format from it.
    :meth:`commit` fsyncs and ``os.replace``-s; :meth:`abort` removes the temp
    file. Nothing is committed implicitly (not in ``__exit__`` on error, never
    in a destructor).
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int = 2, subtype: str = "PCM_24",
                 protect: tuple[str, ...] = (), tag: str | None = None):
        self.path = Path(path)
        if any(os.path.exists(q) and os.path.exists(self.path) and os.path.samefile(q, self.path) for q in protect):
            raise OutputError(f"{self.path}: refusing to overwrite an input file; choose another output name")
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"{self.path}: output folder {folder} does not exist; create it first")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"{self.path}: output folder {folder} is not writable")
        self.tmp = folder / f"{self.path.stem}.{uuid.uuid4().hex[:12]}.partial{self.path.suffix or '.wav'}"
        self._file = sf.SoundFile(str(self.tmp), "w", samplerate=int(sample_rate), channels=channels, subtype=subtype)
        # 24-bit WAV and AIFF: the floats become libsndfile's own 24-bit samples in one compiled pass and go in as
        # integers (the same bytes; libsndfile's float path rounds each sample with lrintf, 3x slower)
        self._pcm24 = subtype == "PCM_24" and self._file.format in ("WAV", "AIFF")
        if tag is not None:  # before the first frame: libsndfile writes the strings with the header
            self._file.software = tag

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, samples)`` block."""
        if self._pcm24 and block.dtype == np.float32:
            from automix.kernels.pcm import encode_pcm24

            words = np.empty((block.shape[1], block.shape[0]), np.int32)
            encode_pcm24(block, words)
            self._file.write(words)
        else:
            self._file.write(np.ascontiguousarray(block.T))

    def commit(self) -> Path:
        self._file.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            if self.tmp.exists():
                self.tmp.unlink()

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is not None or not self._file.closed:
            self.abort()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a small text file (JSON settings/report) atomically."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp.exists():
            tmp.unlink()
        raise OutputError(f"{path}: could not write ({e.strerror}); check the folder exists and is writable") from None
