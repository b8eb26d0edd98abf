"""DAWproject export and import: the mix as tracks, clips and editable devices.

DAWproject (Bitwig and PreSonus's open exchange format, read by Bitwig Studio, Studio One and Cubase) is
a zip holding ``project.xml`` and ``metadata.xml`` (UTF-8 XML, the published ``Project.xsd`` /
``MetaData.xsd``) and, optionally, the media. What automix writes:

- one audio track per stem: the original stem as a clip at time zero (embedded under ``audio/``, or
  referenced relative to the project file), the fader as the channel's ``Volume`` (unit linear, 1 = 0 dB),
  the pan as its ``Pan`` (unit normalized, 0 = left, 0.5 = centre, 1 = right), mute and solo;
- the stem's inserts as devices in chain order: the EQ as an ``Equalizer`` (bands ``highPass`` at Q 0.5,
  i.e. our two first-order stages, 12 dB/oct; ``lowShelf`` and ``highShelf`` at Q 1/sqrt 2; three ``bell``
  bands), the compressor as a ``Compressor`` (threshold dB; ratio in percent as the format documents it,
  ``100 * (1 - 1/R)``: 75 % is 4:1; attack and release in seconds, JUCE's convention where the time constant
  is the time over 2 pi; makeup as ``OutputGain``), the limiter as a ``Limiter`` (ceiling as ``Threshold``,
  lookahead as ``Attack``, release, true-peak detection as a parameter); the stem's input gain goes to the
  first device's ``InputGain`` (the gain before it, as in automix);
- processors the format has no device for (saturation, stereo width, polarity, a gain stage) as a
  ``BuiltinDevice`` named ``automix <plugin>`` (``deviceID`` ``automix.<plugin>``) whose ``Parameters`` are
  the plugin's parameters with their units, which a DAW shows but cannot play: the track's comment names
  them. A stage automix runs after the fader and pan (the width) carries ``after_fader = true``; in the DAW
  it plays before them, which is exact whenever the pan is centre or the width 1;
- a master track (``role="master"``) with the master chain as devices and the bus trim as the first
  device's ``InputGain``;
- the session's tempo when given, and metadata: the session name as the title, the automix version and
  the style in the comment.

:func:`read_dawproject` reads such a project back into settings: every value travels at full precision,
so the settings re-render the same mix (the tests check a null below -90 dB). It reads what the format
holds, so a project edited in a DAW comes back with its edits, as far as automix's processors can play
them (a band type or Q they cannot is an error naming the track).
"""
from __future__ import annotations

import math
import os
import uuid
import zipfile
from pathlib import Path
from typing import Sequence
from xml.etree import ElementTree as ET

from automix.errors import SettingsError
from automix.export.common import claim, split_strip, track_names
from automix.plugins import get_plugin
from automix.settings import MixSettings, PluginSettings, StemSettings

#: the format version this module writes and reads
FORMAT_VERSION = "1.0"
#: the high-pass band's Q: two first-order stages make a 2nd-order high-pass with Q 1/2
HIGHPASS_Q = 0.5
#: automix's shelf Q (pedalboard's default)
SHELF_Q = 1 / math.sqrt(2)
#: native devices and the automix plugin each one plays
NATIVE = {"eq": "Equalizer", "compressor": "Compressor", "limiter": "Limiter"}
_Q_TOLERANCE = 1e-6


def _num(x: float) -> str:
    """A number as XML text: shortest round-trip repr (exact back to the same float)."""
    x = float(x)
    return repr(0.0 if x == 0 else x)


def _ratio_percent(ratio: float) -> float:
    return 100.0 * (1.0 - 1.0 / ratio)


def _percent_ratio(percent: float) -> float:
    if not 0.0 <= percent < 100.0:
        raise ValueError(f"compressor ratio {percent} % is outside 0-100 % (100 % is infinite)")
    return 1.0 / (1.0 - percent / 100.0)


def _param_unit(name: str, scale: str) -> tuple[str, float]:
    """The DAWproject unit of an automix parameter and the factor from automix's unit to it."""
    if name.endswith("_db"):
        return "decibel", 1.0
    if name.endswith("_hz"):
        return "hertz", 1.0
    if name.endswith("_ms"):
        return "seconds", 1e-3
    if name == "mix":
        return "normalized", 1.0
    return "linear", 1.0


class _Writer:
    """Builds ``project.xml``: ids in document order (``id0``, ``id1``...), as DAWs write them."""

    def __init__(self):
        self.count = 0

    def id(self) -> str:
        self.count += 1
        return f"id{self.count - 1}"

    def real(self, parent, tag: str, value: float, unit: str, *, name: str | None = None, lo=None, hi=None,
             with_id: bool = True):
        e = ET.SubElement(parent, tag)
        if lo is not None:
            e.set("min", _num(lo))
        if hi is not None:
            e.set("max", _num(hi))
        e.set("unit", unit)
        e.set("value", _num(value))
        if with_id:
            e.set("id", self.id())
        if name:
            e.set("name", name)
        return e

    def boolean(self, parent, tag: str, value: bool, name: str | None = None):
        e = ET.SubElement(parent, tag, value="true" if value else "false", id=self.id())
        if name:
            e.set("name", name)
        return e

    def device(self, parent, tag: str, name: str, *, device_id: str | None = None, comment: str | None = None):
        e = ET.SubElement(parent, tag, deviceName=name, deviceRole="audioFX", loaded="true")
        if device_id:
            e.set("deviceID", device_id)
            e.set("deviceVendor", "automix")
        e.set("id", self.id())
        e.set("name", name)
        if comment:
            e.set("comment", comment)
        return e

    def plugin(self, parent, stage: PluginSettings, input_gain_db: float | None, after_fader: bool = False):
        """One chain stage as a device; ``input_gain_db`` (not None) is the gain before it."""
        p = stage.params
        if stage.plugin == "eq":
            e = self.device(parent, "Equalizer", "EQ")
            self.boolean(e, "Enabled", True, "On/Off")
            bands = [("highPass", p["highpass_hz"], None, HIGHPASS_Q),
                     ("lowShelf", p["low_shelf_hz"], p["low_shelf_gain_db"], SHELF_Q)]
            bands += [("bell", p[f"peak{i}_hz"], p[f"peak{i}_gain_db"], p[f"peak{i}_q"]) for i in (1, 2, 3)]
            bands.append(("highShelf", p["high_shelf_hz"], p["high_shelf_gain_db"], SHELF_Q))
            for order, (kind, hz, gain, q) in enumerate(bands):
                band = ET.SubElement(e, "Band", type=kind, order=str(order))
                self.real(band, "Freq", hz, "hertz", name="Frequency")
                if gain is not None:
                    self.real(band, "Gain", gain, "decibel", name="Gain")
                self.real(band, "Q", q, "linear", name="Q")
                self.boolean(band, "Enabled", True, "Enabled")
            self.real(e, "InputGain", input_gain_db or 0.0, "decibel", name="Input Gain")
            self.real(e, "OutputGain", 0.0, "decibel", name="Output Gain")
            return e
        if stage.plugin == "compressor":
            e = self.device(parent, "Compressor", "Compressor",
                            comment=f"ratio {p['ratio']:g}:1; times are JUCE's (time constant = time / 2 pi)")
            self.boolean(e, "Enabled", True, "On/Off")
            self.real(e, "Attack", p["attack_ms"] / 1000.0, "seconds", name="Attack")
            self.boolean(e, "AutoMakeup", False, "Auto Makeup")
            self.real(e, "InputGain", input_gain_db or 0.0, "decibel", name="Input Gain")
            self.real(e, "OutputGain", p["makeup_db"], "decibel", name="Output Gain")
            self.real(e, "Ratio", _ratio_percent(p["ratio"]), "percent", name="Ratio", lo=0, hi=100)
            self.real(e, "Release", p["release_ms"] / 1000.0, "seconds", name="Release")
            self.real(e, "Threshold", p["threshold_db"], "decibel", name="Threshold")
            return e
        if stage.plugin == "limiter":
            e = self.device(parent, "Limiter", "Limiter",
                            comment="brickwall; Threshold is the output ceiling, Attack the lookahead")
            params = ET.SubElement(e, "Parameters")
            self.boolean(params, "BoolParameter", bool(p["true_peak"] >= 0.5), "true_peak")
            self.boolean(e, "Enabled", True, "On/Off")
            self.real(e, "Attack", p["lookahead_ms"] / 1000.0, "seconds", name="Lookahead")
            self.real(e, "InputGain", input_gain_db or 0.0, "decibel", name="Input Gain")
            self.real(e, "OutputGain", 0.0, "decibel", name="Output Gain")
            self.real(e, "Release", p["release_ms"] / 1000.0, "seconds", name="Release")
            self.real(e, "Threshold", p["ceiling_db"], "decibel", name="Ceiling")
            return e
        spec = get_plugin(stage.plugin)
        e = self.device(parent, "BuiltinDevice", f"automix {stage.plugin}", device_id=f"automix.{stage.plugin}",
                        comment=spec.doc)
        params = ET.SubElement(e, "Parameters")
        for i, ps in enumerate(spec.params):
            if ps.scale == "bool":
                self.boolean(params, "BoolParameter", p[ps.name] >= 0.5, ps.name).set("parameterID", str(i))
            else:
                unit, k = _param_unit(ps.name, ps.scale)
                self.real(params, "RealParameter", p[ps.name] * k, unit, name=ps.name, lo=ps.minimum * k,
                          hi=ps.maximum * k).set("parameterID", str(i))
        if after_fader:
            self.boolean(params, "BoolParameter", True, "after_fader")
        self.boolean(e, "Enabled", True, "On/Off")
        return e

    def devices(self, channel, stages: Sequence[PluginSettings], input_gain_db: float, post=()):
        holder = ET.SubElement(channel, "Devices")
        if input_gain_db and (not stages or stages[0].plugin not in NATIVE):
            # nothing to carry it: a gain device the reader knows as the input gain
            e = self.device(holder, "BuiltinDevice", "automix input gain", device_id="automix.input_gain")
            self.real(ET.SubElement(e, "Parameters"), "RealParameter", input_gain_db, "decibel", name="gain_db")
            self.boolean(e, "Enabled", True, "On/Off")
            input_gain_db = 0.0
        for i, stage in enumerate(stages):
            self.plugin(holder, stage, input_gain_db if i == 0 and stage.plugin in NATIVE else None)
        for stage in post:
            self.plugin(holder, stage, None, after_fader=True)


def _comment(strip) -> str:
    """The track's comment: what automix does that the DAW shows only as parameters."""
    parts = []
    for stage in list(strip.inserts) + list(strip.post):
        if stage.plugin in NATIVE or stage.params == get_plugin(stage.plugin).defaults():
            continue  # a device the DAW plays, or one at rest
        values = ", ".join(f"{k} {v:g}" for k, v in stage.params.items())
        parts.append(f"automix {stage.plugin} ({values})" + (" after the fader and pan" if stage in strip.post
                                                               else ""))
    return "; ".join(parts) if parts else "every move is a built-in device"


def project_xml(settings: MixSettings, media: Sequence[tuple[str, bool]], *, title: str, tempo_bpm=None,
                muted: Sequence[int] = (), soloed: Sequence[int] = ()) -> bytes:
    """``project.xml`` for ``settings``; ``media[k]`` is ``(path in the container or relative to the project,
    external)`` for stem ``k``."""
    from automix import __version__
    from automix.audio_io import probe

    w = _Writer()
    root = ET.Element("Project", version=FORMAT_VERSION)
    ET.SubElement(root, "Application", name="automix", version=__version__)
    transport = ET.SubElement(root, "Transport")
    if tempo_bpm:
        w.real(transport, "Tempo", tempo_bpm, "bpm", name="Tempo", lo=20, hi=666)
    ET.SubElement(transport, "TimeSignature", denominator="4", numerator="4", id=w.id())
    structure = ET.SubElement(root, "Structure")
    names = track_names(settings)
    tracks = []
    master_track = ET.Element("Track", contentType="audio", loaded="true", id=w.id(), name="Master")
    master_channel = ET.SubElement(master_track, "Channel", audioChannels="2", role="master", solo="false",
                                   id=w.id())
    for k, (stem, name) in enumerate(zip(settings.stems, names)):
        strip = split_strip(stem.chain)
        track = ET.SubElement(structure, "Track", contentType="audio", loaded="true", id=w.id(), name=name,
                              comment=_comment(strip))
        channel = ET.SubElement(track, "Channel", audioChannels="2", destination=master_channel.get("id"),
                                role="regular", solo="true" if k in soloed else "false", id=w.id())
        w.devices(channel, strip.inserts, stem.input_gain_db, strip.post)
        w.boolean(channel, "Mute", k in muted, "Mute")
        w.real(channel, "Pan", (strip.pan + 1.0) / 2.0, "normalized", name="Pan", lo=0, hi=1)
        volume = 10.0 ** (strip.volume_db / 20.0)
        w.real(channel, "Volume", volume, "linear", name="Volume", lo=0, hi=max(2.0, volume))
        tracks.append(track)
    structure.append(master_track)
    w.devices(master_channel, settings.master, settings.master_input_gain_db)
    w.boolean(master_channel, "Mute", False, "Mute")
    w.real(master_channel, "Pan", 0.5, "normalized", name="Pan", lo=0, hi=1)
    w.real(master_channel, "Volume", 1.0, "linear", name="Volume", lo=0, hi=2)

    arrangement = ET.SubElement(root, "Arrangement", id=w.id())
    lanes = ET.SubElement(arrangement, "Lanes", timeUnit="seconds", id=w.id())
    for track, name, stem, (path, external) in zip(tracks, names, settings.stems, media):
        info = probe(stem.path)
        lane = ET.SubElement(lanes, "Lanes", track=track.get("id"), id=w.id())
        clips = ET.SubElement(lane, "Clips", id=w.id())
        clip = ET.SubElement(clips, "Clip", time="0.0", duration=_num(info.duration_s), contentTimeUnit="seconds",
                             playStart="0.0", name=name)
        audio = ET.SubElement(clip, "Audio", channels=str(info.channels), sampleRate=str(info.sample_rate),
                              duration=_num(info.duration_s), timeUnit="seconds", id=w.id())
        ET.SubElement(audio, "File", path=path, external="true" if external else "false")
    return _document(root)


def _document(root: ET.Element) -> bytes:
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                                       xml_declaration=False)


def metadata_xml(title: str, comment: str) -> bytes:
    root = ET.Element("MetaData")
    ET.SubElement(root, "Title").text = title
    ET.SubElement(root, "Comment").text = comment
    return _document(root)


def write_dawproject(settings: MixSettings, out: str | os.PathLike, *, reference_media: bool = False,
                     force: bool = False, title: str | None = None, style: str | None = None, tempo_bpm=None,
                     muted: Sequence[int] = (), soloed: Sequence[int] = ()) -> Path:
    """Write ``settings`` as a ``.dawproject`` at ``out``; returns its path.

    Args:
        reference_media: reference the stems where they are (paths relative to the project file) instead of
            embedding copies (``audio/NN <name>.<ext>`` in the container).
        title: the project's title (default: the output's name); ``style`` goes into the comment.
        tempo_bpm: the session's tempo (beats per minute) when known; omitted otherwise.
        muted, soloed: stem indices whose channel is muted or soloed.
    """
    from automix import __version__

    out = claim(out, force=force, inputs=[s.path for s in settings.stems], suffixes=(".dawproject",))
    names = track_names(settings)
    if reference_media:
        base = out.resolve().parent
        media = [(Path(os.path.relpath(Path(s.path).resolve(), base)).as_posix(), True) for s in settings.stems]
    else:
        media = [(f"audio/{k + 1:02d} {name}{Path(s.path).suffix.lower()}", False)
                 for k, (s, name) in enumerate(zip(settings.stems, names))]
    title = title or out.stem
    comment = f"mixed by automix {__version__}" + (f", style {style}" if style else "")
    project = project_xml(settings, media, title=title, tempo_bpm=tempo_bpm, muted=muted, soloed=soloed)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        # audio is stored, not deflated: it barely compresses and storing costs no more than a copy
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("project.xml", project, compress_type=zipfile.ZIP_DEFLATED)
            z.writestr("metadata.xml", metadata_xml(title, comment), compress_type=zipfile.ZIP_DEFLATED)
            if not reference_media:
                for stem, (path, _) in zip(settings.stems, media):
                    z.write(stem.path, path)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------------------------------------------------
# reading


def _parse(data: bytes, where: str) -> ET.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SettingsError(f"{where}: holds a DOCTYPE or entity declaration, which DAWproject never does")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise SettingsError(f"{where}: not well-formed XML ({e})") from None


def _value(e: ET.Element | None, where: str, unit: str | None = None, default: float | None = None) -> float:
    if e is None:
        if default is None:
            raise SettingsError(f"{where}: missing")
        return default
    if unit is not None and e.get("unit") != unit:
        raise SettingsError(f"{where}: unit {e.get('unit')!r}, expected {unit!r}")
    try:
        return float(e.get("value"))
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: value {e.get('value')!r} is not a number") from None


def _children(e: ET.Element, tag: str) -> list[ET.Element]:
    holder = e.find(tag)
    return [] if holder is None else list(holder)


def _flag(e: ET.Element | None, default: bool = True) -> bool:
    return default if e is None else e.get("value") == "true"


def _device(e: ET.Element, where: str) -> tuple[PluginSettings | None, float, bool]:
    """A device element -> ``(stage, input gain dB, after_fader)``; the stage is None for an input-gain device."""
    tag = e.tag
    input_gain = _value(e.find("InputGain"), f"{where} InputGain", "decibel", 0.0)
    enabled = _flag(e.find("Enabled"))
    if tag == "Equalizer":
        p = get_plugin("eq").defaults()
        bells = []
        for band in sorted(e.findall("Band"), key=lambda b: int(b.get("order", 0))):
            kind, bw = band.get("type"), f"{where} band {band.get('order')} ({band.get('type')})"
            on = enabled and _flag(band.find("Enabled"))
            hz = _value(band.find("Freq"), f"{bw} Freq", "hertz")
            gain = _value(band.find("Gain"), f"{bw} Gain", "decibel", 0.0) if on else 0.0
            q = _value(band.find("Q"), f"{bw} Q", "linear", None if kind == "bell" else 0.0)
            if kind == "highPass":
                if q and abs(q - HIGHPASS_Q) > _Q_TOLERANCE:
                    raise SettingsError(f"{bw}: automix's high-pass is 12 dB/oct at Q {HIGHPASS_Q}, not Q {q:g}")
                p["highpass_hz"] = hz if on else get_plugin("eq").spec("highpass_hz").minimum
            elif kind in ("lowShelf", "highShelf"):
                if q and abs(q - SHELF_Q) > _Q_TOLERANCE:
                    raise SettingsError(f"{bw}: automix's shelves have Q {SHELF_Q:.4f}, not Q {q:g}")
                side = "low" if kind == "lowShelf" else "high"
                p[f"{side}_shelf_hz"], p[f"{side}_shelf_gain_db"] = hz, gain
            elif kind == "bell":
                bells.append((hz, gain, q))
            else:
                raise SettingsError(f"{bw}: automix's EQ has no {kind} band (it has highPass, lowShelf, three bell, "
                                    "highShelf)")
        if len(bells) > 3:
            raise SettingsError(f"{where}: {len(bells)} bell bands; automix's EQ has three")
        for i, (hz, gain, q) in enumerate(bells, start=1):
            p[f"peak{i}_hz"], p[f"peak{i}_gain_db"], p[f"peak{i}_q"] = hz, gain, q
        return PluginSettings("eq", p), input_gain, False
    if tag == "Compressor":
        try:
            ratio = _percent_ratio(_value(e.find("Ratio"), f"{where} Ratio", "percent", 0.0))
        except ValueError as err:
            raise SettingsError(f"{where}: {err}") from None
        p = {"threshold_db": _value(e.find("Threshold"), f"{where} Threshold", "decibel", 0.0),
             "ratio": ratio if enabled else 1.0,
             "attack_ms": 1000.0 * _value(e.find("Attack"), f"{where} Attack", "seconds", 0.01),
             "release_ms": 1000.0 * _value(e.find("Release"), f"{where} Release", "seconds", 0.1),
             "makeup_db": _value(e.find("OutputGain"), f"{where} OutputGain", "decibel", 0.0)}
        return PluginSettings("compressor", p), input_gain, False
    if tag == "Limiter":
        flags = {b.get("name"): _flag(b) for b in e.findall("Parameters/BoolParameter")}
        p = {"ceiling_db": _value(e.find("Threshold"), f"{where} Threshold", "decibel"),
             "release_ms": 1000.0 * _value(e.find("Release"), f"{where} Release", "seconds", 0.1),
             "lookahead_ms": 1000.0 * _value(e.find("Attack"), f"{where} Attack", "seconds", 0.005),
             "true_peak": 1.0 if flags.get("true_peak", True) else 0.0}
        return PluginSettings("limiter", p), input_gain, False
    device_id = e.get("deviceID") or ""
    if tag == "BuiltinDevice" and device_id.startswith("automix."):
        name = device_id.split(".", 1)[1]
        plugin = get_plugin("gain" if name == "input_gain" else name)
        values = {x.get("name"): x for x in _children(e, "Parameters")}
        p = {}
        for ps in plugin.params:
            x = values.get(ps.name)
            if ps.scale == "bool":
                p[ps.name] = 1.0 if _flag(x, ps.default >= 0.5) else 0.0
            else:
                unit, k = _param_unit(ps.name, ps.scale)
                p[ps.name] = _value(x, f"{where} {ps.name}", unit, ps.default * k) / k
        if name == "input_gain":
            return None, p["gain_db"], False
        return PluginSettings(plugin.name, p), 0.0, _flag(values.get("after_fader"), False)
    raise SettingsError(f"{where}: a {tag} {e.get('deviceName')!r} is not a device automix can play; remove it or "
                        "print the track")


def _chain(channel: ET.Element, where: str) -> tuple[list[PluginSettings], list[PluginSettings], float]:
    """A channel's devices -> ``(inserts, after-fader stages, input gain dB)``."""
    inserts, post, input_gain = [], [], 0.0
    for i, e in enumerate(_children(channel, "Devices")):
        stage, gain, after = _device(e, f"{where} device {i + 1} ({e.get('name') or e.tag})")
        if gain:
            if i != 0:
                raise SettingsError(f"{where} device {i + 1}: an input gain is only playable on the first device")
            input_gain = gain
        if stage is not None:
            (post if after else inserts).append(stage)
    return inserts, post, input_gain


def read_dawproject(path: str | os.PathLike, *, media_folder: str | os.PathLike | None = None,
                    sample_rate: int | None = None) -> MixSettings:
    """Read a ``.dawproject`` into settings (validated as a settings file is).

    Args:
        media_folder: where to extract embedded media (required when the project embeds any); referenced
            media resolve relative to the project file.
        sample_rate: the session rate; default: the most common rate of the clips (the rule of a mix).
    """
    from automix.mixer import session_rate

    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise SettingsError(f"{path}: not a DAWproject container ({e})") from None
    with z:
        try:
            root = _parse(z.read("project.xml"), f"{path}: project.xml")
        except KeyError:
            raise SettingsError(f"{path}: no project.xml inside; not a DAWproject") from None
        if root.tag != "Project":
            raise SettingsError(f"{path}: project.xml's root is <{root.tag}>, expected <Project>")
        files: dict[str, tuple[str, int]] = {}
        for lane in root.iter("Lanes"):
            track = lane.get("track")
            audio = lane.find("Clips/Clip/Audio")
            if track and audio is not None:
                ref = audio.find("File")
                media = ref.get("path")
                if ref.get("external") == "true":
                    target = media if os.path.isabs(media) else str(path.resolve().parent / media)
                else:
                    if media_folder is None:
                        raise SettingsError(f"{path}: the project embeds its audio; give a folder to extract it to")
                    target = z.extract(media, media_folder)
                files[track] = (target, int(audio.get("sampleRate")))
        stems, master, master_gain = [], [], 0.0
        for track in root.findall("Structure/Track"):
            channel = track.find("Channel")
            where = f"{path}: track {track.get('name')!r}"
            if channel is None:
                continue
            inserts, post, gain = _chain(channel, where)
            if channel.get("role") == "master":
                master, master_gain = inserts + post, gain
                volume = _value(channel.find("Volume"), f"{where} Volume", "linear", 1.0)
                if volume != 1.0:  # the master fader plays after the chain
                    master.append(PluginSettings("gain", {"gain_db": 20.0 * math.log10(max(volume, 1e-3))}))
                continue
            if track.get("id") not in files:
                raise SettingsError(f"{where}: has no audio clip")
            volume = _value(channel.find("Volume"), f"{where} Volume", "linear", 1.0)
            pan = _value(channel.find("Pan"), f"{where} Pan", "normalized", 0.5) * 2.0 - 1.0
            fader = [PluginSettings("gain", {"gain_db": 20.0 * math.log10(volume) if volume > 0 else -60.0}),
                     PluginSettings("pan", {"pan": pan})]
            stems.append(StemSettings(files[track.get("id")][0], inserts + fader + post, gain))
    if not stems:
        raise SettingsError(f"{path}: no audio track with a clip; nothing to mix")
    rate = sample_rate or session_rate([files[k][1] for k in files])
    data = MixSettings(rate, stems, master, master_input_gain_db=master_gain).to_dict()
    return MixSettings.from_dict(data, str(path))
