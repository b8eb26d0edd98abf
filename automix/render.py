"""Library entry points behind ``automix render``, ``settings-template`` and ``analyze``.

Each validates all inputs before writing anything, writes atomically, and
returns plain data the CLI prints.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from automix.audio_io import (BLOCK_FRAMES, AtomicWriter, StemReader, check_output_format, output_frames, output_tag,
                              probe)
from automix.constants import BUS_REFERENCE_LUFS, ENGINES, REFERENCE_LUFS, SILENCE_LUFS
from automix.errors import AutomixError, SettingsError
from automix.provenance import stem_record
from automix.settings import MASTER_CHAIN, STEM_CHAIN, MixSettings, StemSettings, neutral_chain



def stem_loudness(path: str, sample_rate: int) -> float:
    """Integrated loudness (LUFS, dual-mono for mono files) of a stem, streamed."""
    from automix.meters import StreamingMeter

    info = probe(path)
    meter = StreamingMeter(sample_rate, 2, spectral=False, true_peak=False)
    n = output_frames(info, sample_rate)
    with StemReader(info, sample_rate) as r:
        for start in range(0, n, BLOCK_FRAMES):
            meter.process(r.read(min(BLOCK_FRAMES, n - start)))
    return meter.result()["integrated_lufs"]


def normalisation_gain_db(lufs: float, reference: float = REFERENCE_LUFS) -> float:
    """Gain that brings a stem at ``lufs`` to ``reference`` (0 for silent stems)."""
    if not np.isfinite(lufs) or lufs < SILENCE_LUFS:
        return 0.0
    return float(np.clip(reference - lufs, -60.0, 60.0))


def bus_trim_db(lufs: float) -> float:
    """The master's ``input_gain_db``: brings the summed strips at ``lufs`` to :data:`BUS_REFERENCE_LUFS`."""
    return normalisation_gain_db(lufs, BUS_REFERENCE_LUFS)


def settings_template(paths: Sequence[str], *, sample_rate: int | None = None,
                      relative_to: str | os.PathLike | None = None) -> MixSettings:
    """Neutral settings for ``paths``: loudness-normalised stems through default chains.

    The session rate is the first stem's unless ``sample_rate`` is given.
    With ``relative_to`` (the settings file's folder) paths are stored relative to it.
    """
    if not paths:
        raise SettingsError("no stems given; pass --stems A.wav B.wav ...")
    infos = [probe(p) for p in paths]
    sr = int(sample_rate or infos[0].sample_rate)
    stems = []
    for info in infos:
        gain = round(normalisation_gain_db(stem_loudness(info.path, sr)), 4)
        path = os.path.relpath(os.path.abspath(info.path), os.path.abspath(relative_to)) if relative_to else os.path.abspath(info.path)
        stems.append(StemSettings(path, neutral_chain(STEM_CHAIN), gain, stem_record(info.path)))
    return MixSettings(sr, stems, neutral_chain(MASTER_CHAIN))


def render_to_file(settings: MixSettings, output: str | os.PathLike, *, engine: str = "pedalboard",
                   threads: int = 1, subtype: str = "PCM_24", out_format=None) -> dict:
    """Render ``settings`` to a 24-bit WAV at the session rate (or ``out_format``'s word length and rate,
    :mod:`automix.finish`); returns the output's meters.

    Every stem is validated first; on any error nothing is left at ``output``.
    """
    from automix.finish import Finisher, check_format
    from automix.meters import StreamingMeter

    if engine not in ENGINES:
        raise SettingsError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    check_output_format(output)
    if out_format is not None:
        check_format(output, out_format)
    for s in settings.stems:
        probe(s.path)
    sr = settings.sample_rate
    finisher = Finisher(sr, out_format) if out_format is not None else None
    out_rate = finisher.out_rate if finisher is not None else sr
    writer = AtomicWriter(output, out_rate, 2, out_format.subtype if out_format is not None else subtype,
                          protect=tuple(s.path for s in settings.stems), tag=output_tag())
    meter = StreamingMeter(out_rate, 2)
    try:
        def sink(block: np.ndarray) -> None:
            if finisher is not None:
                block = finisher.process(block)
            meter.process(block)
            writer.write(block)

        if engine == "pedalboard":
            from automix.engines.pedalboard_engine import render_stream

            render_stream(settings, sink, threads=threads)
        else:
            from automix.engines.torch_engine import render

            mix = render(settings)
            for start in range(0, mix.shape[1], BLOCK_FRAMES):
                sink(mix[:, start:start + BLOCK_FRAMES])
        if finisher is not None:
            rest = finisher.flush()
            meter.process(rest)
            writer.write(rest)
        result = meter.result()
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return result


def analyze_files(paths: Sequence[str]) -> list[dict]:
    """Meter each file; a bad file gives a row with ``error`` and ``code`` instead of meters."""
    rows = []
    for p in paths:
        try:
            info = probe(p)
            from automix.meters import StreamingMeter  # after the probe: a bad path is answered without the meters

            meter = StreamingMeter(info.sample_rate, 2)
            with StemReader(info, info.sample_rate) as r:
                for start in range(0, info.frames, BLOCK_FRAMES):
                    meter.process(r.read(min(BLOCK_FRAMES, info.frames - start)))
            rows.append({"file": p, "sample_rate": info.sample_rate, "channels": info.channels,
                         "duration_s": round(info.duration_s, 3), **meter.result()})
        except AutomixError as e:
            rows.append({"file": p, "error": str(e), "code": e.code})
    return rows


def deliver_render(settings: MixSettings, output: str | os.PathLike, specs, style, *, bits: str | None = None,
                   rate: int | None = None, engine: str = "pedalboard", threads: int = 1, codecs=()) -> dict:
    """``automix render --deliver``: the settings' strips summed once, then the master loop for each delivery
    spec (:mod:`automix.delivery`) from the settings' master chain, the output meeting the first spec and
    ``OUT.<spec>.<ext>`` each further one. ``style`` supplies what a spec leaves to the style (the CD's
    loudness and ceiling) and the envelope. Returns a report: ``output``, ``final_meters``, ``format``,
    ``masters``, ``delivery`` (every rule checked) and ``playback``.
    """
    from pathlib import Path

    from automix.delivery import attach_report, plan
    from automix.finish import check_format
    from automix.master_render import BusFile, MasterRenderer
    from automix.mixer import _render_premaster, remaster

    if engine not in ENGINES:
        raise SettingsError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    output = Path(output)
    check_output_format(output)
    main_style, main_format, extras = plan(style, specs, output, bits=bits, rate=rate)
    targets = [(specs[0].name, main_style, output, main_format)] + list(extras)
    for _, _, path, fmt in targets:
        check_output_format(path)
        check_format(path, fmt)
    for s in settings.stems:
        probe(s.path)
    settings.quantize()
    bus = BusFile(output.parent if str(output.parent) else Path("."), settings.sample_rate)
    renderer = MasterRenderer(bus, output, engine, [s.path for s in settings.stems], threads, main_format)
    try:
        _render_premaster(settings, bus, engine, threads, metered=False)  # the settings' own trim: no bus meter
        renderer.trim_db = settings.master_input_gain_db
        masters = [remaster(renderer, settings, st, path, fmt, 8, name, codecs) for name, st, path, fmt in targets]
    finally:
        renderer.abort()
        renderer.close()
        bus.remove()
    first = masters[0]
    report = {"output": str(output), "final_meters": first["meters"], "format": first["format"],
              "masters": masters[1:]}
    if "codec_check" in first:
        report["codec_check"] = first["codec_check"]
    return attach_report(report, style, specs)
