"""Stem validation and reading: every bad input gets its code, good inputs read exactly."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from automix.audio_io import AtomicWriter, StemReader, output_frames, probe, read_stem, write_text_atomic
from automix.errors import OutputError, SessionError
from tests.conftest import music_like


def _code(path):
    with pytest.raises(SessionError) as e:
        probe(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    return e.value.code


def test_missing_file(tmp_path):
    assert _code(tmp_path / "nope.wav") == "E_MISSING"


def test_zero_byte_file(tmp_path):
    p = tmp_path / "zero.wav"
    p.write_bytes(b"")
    assert _code(p) == "E_EMPTY"


def test_text_named_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("these are my session notes\n" * 10)
    assert _code(p) == "E_UNREADABLE"


def test_truncated_wav_is_detected(write_wav):
    p = write_wav("t.wav", music_like(44100, 44100))
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) // 2])
    assert _code(p) == "E_TRUNCATED"


def test_truncated_aiff_is_detected(tmp_path):
    p = str(tmp_path / "t.aiff")
    sf.write(p, music_like(44100, 44100).T, 44100, subtype="PCM_16")
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) * 2 // 3])
    assert _code(p) == "E_TRUNCATED"


def test_header_only_and_zero_frames(tmp_path, write_wav):
    p = write_wav("empty.wav", np.zeros((2, 0), np.float32))
    assert _code(p) == "E_EMPTY"


def test_too_many_channels(write_wav):
    p = write_wav("surround.wav", np.zeros((6, 44100), np.float32))
    assert _code(p) == "E_CHANNELS"


def test_too_short(write_wav):
    p = write_wav("blip.wav", np.zeros((1, 100), np.float32))
    assert _code(p) == "E_TOO_SHORT"


def test_nan_is_caught_while_reading(write_wav):
    x = music_like(44100, 44100)
    x[1, 30000] = np.nan
    p = write_wav("nan.wav", x, subtype="FLOAT")
    info = probe(p)
    with pytest.raises(SessionError) as e:
        read_stem(info, 44100)
    assert e.value.code == "E_NONFINITE"


def test_mono_becomes_dual_mono_and_float_overs_survive(write_wav):
    x = music_like(44100, 44100, channels=1) * 4.0  # peaks well above 0 dBFS
    p = write_wav("hot.wav", x, subtype="FLOAT")
    y = read_stem(probe(p), 44100)
    assert y.shape == (2, 44100)
    np.testing.assert_array_equal(y[0], x[0])
    np.testing.assert_array_equal(y[1], x[0])
    assert np.abs(y).max() > 1.5


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"])
def test_bit_depths_read_as_float(write_wav, subtype):
    x = music_like(22050, 44100)
    x = x / np.abs(x).max() * 0.9  # integer formats clip at full scale
    y = read_stem(probe(write_wav(f"{subtype}.wav", x, subtype=subtype)), 44100)
    tol = {"PCM_U8": 1e-2, "PCM_16": 1e-4}.get(subtype, 1e-6)
    np.testing.assert_allclose(y, x, atol=tol)


@pytest.mark.parametrize("fmt, ext", [("WAV", "wav"), ("WAVEX", "wav"), ("RF64", "wav"), ("AIFF", "aiff")])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32"])
@pytest.mark.parametrize("channels", [1, 2])
def test_integer_pcm_decodes_to_libsndfiles_floats(tmp_path, fmt, ext, subtype, channels):
    """The reader decodes integer WAV/AIFF itself: the same floats as libsndfile's, bit for bit, in any blocks."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, size=(70001, channels))
    x[:4, 0] = [-1.0, 1.0 - 1e-9, 0.0, -1e-7]  # both ends of the range, zero and the smallest steps
    p = str(tmp_path / f"s.{ext}")
    sf.write(p, x, 48000, format=fmt, subtype=subtype)
    ref = sf.read(p, dtype="float32", always_2d=True)[0].T
    with StemReader(probe(p), 48000) as r:
        assert r._raw is not None  # decoded here, not by libsndfile
        got = np.concatenate([r.read(n) for n in (1000, 7, 65536, 20000)], axis=1)
    expected = np.repeat(ref, 2, axis=0) if channels == 1 else ref
    np.testing.assert_array_equal(got[:, :70001], expected)
    assert not got[:, 70001:].any() and got.dtype == np.float32


def test_integer_pcm_reads_around_other_chunks_and_a_short_tail(tmp_path):
    """A LIST chunk of strings before the samples, and a file whose last frame is cut off: the reader's samples
    are libsndfile's."""
    rng = np.random.default_rng(8)
    x = rng.uniform(-0.9, 0.9, size=(44100, 2))
    p = str(tmp_path / "tagged.wav")
    with sf.SoundFile(p, "w", 44100, 2, subtype="PCM_24", format="WAV") as f:
        f.title, f.comment = "take 3", "strings in a LIST chunk"
        f.write(x)
    ref = sf.read(p, dtype="float32", always_2d=True)[0].T
    np.testing.assert_array_equal(read_stem(probe(p), 44100), ref)
    data = open(p, "rb").read()
    size = data.index(b"data")
    cut = str(tmp_path / "cut.wav")
    # drop the trailing chunks and the last byte: one frame cut short, within what probe accepts
    open(cut, "wb").write(data[:size + 8 + 44100 * 6 - 1])
    y = read_stem(probe(cut), 44100)
    libsndfile = sf.read(cut, dtype="float32", always_2d=True)[0].T
    np.testing.assert_array_equal(y[:, :libsndfile.shape[1]], libsndfile)
    assert not y[:, libsndfile.shape[1]:].any()


def test_resampling_length_and_content(write_wav):
    sr_in, sr_out = 48000, 44100
    t = np.arange(sr_in) / sr_in
    x = np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32) * 0.5
    info = probe(write_wav("48k.wav", x, sr_in, "FLOAT"))
    assert output_frames(info, sr_out) == 44100
    y = read_stem(info, sr_out)
    assert y.shape == (2, 44100)
    ref = 0.5 * np.sin(2 * np.pi * 440 * np.arange(44100) / sr_out)
    # away from the edges the resampled sine is the sine (windowed-sinc resampler)
    assert np.abs(y[0, 2000:42000] - ref[2000:42000]).max() < 0.02


def test_reader_blocks_are_block_size_independent(write_wav):
    info = probe(write_wav("s.wav", music_like(50000, 48000), 48000, "FLOAT"))
    whole = read_stem(info, 44100)
    with StemReader(info, 44100) as r:
        parts = [r.read(n) for n in (1000, 7, 30000, 20000)]
    got = np.concatenate(parts, axis=1)[:, : whole.shape[1]]
    np.testing.assert_array_equal(got, whole)


def test_atomic_writer_leaves_nothing_on_abort(tmp_path):
    out = tmp_path / "mix.wav"
    w = AtomicWriter(out, 44100)
    w.write(np.zeros((2, 100), np.float32))
    w.abort()
    assert os.listdir(tmp_path) == []


def test_atomic_writer_commit_is_24_bit(tmp_path):
    out = tmp_path / "mix.wav"
    with AtomicWriter(out, 48000) as w:
        w.write(np.full((2, 10), 0.5, np.float32))
        w.commit()
    info = sf.info(str(out))
    assert (info.subtype, info.samplerate, info.channels, info.frames) == ("PCM_24", 48000, 2, 10)
    assert os.listdir(tmp_path) == ["mix.wav"]


@pytest.mark.parametrize("ext", ["wav", "aiff"])
@pytest.mark.parametrize("channels", [1, 2])
def test_24_bit_writes_are_libsndfiles_float_writes_byte_for_byte(tmp_path, ext, channels):
    """The writer's compiled float-to-24-bit pass makes the file libsndfile's float writer makes: random floats,
    exact halves of a 24-bit step, full scale, the smallest floats, signed zeros and overs (clipped), in blocks."""
    rng = np.random.default_rng(1)
    n = 50_000
    x = rng.uniform(-1, 1, (channels, n)).astype(np.float32)
    x[0, :2000] = ((rng.integers(-8388608, 8388607, 2000) + 0.5) / 8388608.0).astype(np.float32)
    x[-1, 2000:2016] = [1.0, -1.0, 0.0, -0.0, 1e-30, -1e-30, 0.99999994, -0.99999994,
                        1.5, -1.5, 2.0, -2.0, 255.0, -255.0, 3e5, -1e6]
    sf.write(str(tmp_path / f"want.{ext}"), x.T, 44100, subtype="PCM_24")
    w = AtomicWriter(tmp_path / f"got.{ext}", 44100, channels, "PCM_24")
    assert w._pcm24, "the compiled pass is the one under test"
    for s in range(0, n, 4096):
        w.write(x[:, s:s + 4096])
    w.commit()
    assert (tmp_path / f"got.{ext}").read_bytes() == (tmp_path / f"want.{ext}").read_bytes()


def test_atomic_writer_refuses_to_overwrite_an_input(write_wav):
    p = write_wav("in.wav", music_like(44100, 44100))
    with pytest.raises(OutputError):
        AtomicWriter(p, 44100, protect=(p,))


def test_missing_output_folder(tmp_path):
    with pytest.raises(OutputError):
        AtomicWriter(tmp_path / "no" / "mix.wav", 44100)


def test_write_text_atomic(tmp_path):
    p = tmp_path / "r.json"
    write_text_atomic(p, "{}")
    assert p.read_text() == "{}" and os.listdir(tmp_path) == ["r.json"]
