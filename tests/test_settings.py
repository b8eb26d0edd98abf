"""MixSettings JSON contract: round trip and every rejection names what is wrong."""
from __future__ import annotations

import json

import pytest

from automix.errors import SettingsError
from automix.settings import MASTER_CHAIN, SCHEMA, STEM_CHAIN, MixSettings, StemSettings, neutral_chain
from automix.plugins import get_plugin


def _settings() -> MixSettings:
    return MixSettings(44100, [StemSettings("drums.wav", neutral_chain(STEM_CHAIN), -3.5),
                               StemSettings("bass.wav", neutral_chain(("gain",)))], neutral_chain(MASTER_CHAIN))


def _load(tmp_path, data) -> MixSettings:
    p = tmp_path / "s.json"
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return MixSettings.load(p)


def _error(tmp_path, data) -> str:
    with pytest.raises(SettingsError) as e:
        _load(tmp_path, data)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_round_trip_and_shape(tmp_path):
    s = _settings()
    d = json.loads(s.to_json())
    assert d["schema"] == SCHEMA and d["sample_rate"] == 44100
    assert set(d["stems"][0]) == {"path", "input_gain_db", "chain"}
    assert d["stems"][0]["chain"][0] == {"plugin": "eq", "params": get_plugin("eq").defaults()}
    assert "chain" in d["master"]
    again = _load(tmp_path, d)
    assert again.to_dict()["stems"][0]["chain"] == d["stems"][0]["chain"]
    assert again.stems[0].path == str(tmp_path / "drums.wav")  # relative to the settings file


def test_master_bus_trim_round_trips_and_defaults_to_zero(tmp_path):
    s = _settings()
    s.master_input_gain_db = -7.25
    d = json.loads(s.to_json())
    assert d["master"]["input_gain_db"] == -7.25
    assert _load(tmp_path, d).master_input_gain_db == -7.25
    del d["master"]["input_gain_db"]  # settings written before the bus trim existed
    assert _load(tmp_path, d).master_input_gain_db == 0.0
    assert _settings().with_stem_paths(["a.wav", "b.wav"]).master_input_gain_db == 0.0
    s.master_input_gain_db = 3.0
    assert s.with_stem_paths(["a.wav", "b.wav"]).master_input_gain_db == 3.0


def test_every_parameter_must_be_present(tmp_path):
    d = _settings().to_dict()
    del d["stems"][0]["chain"][1]["params"]["ratio"]
    assert "missing parameter 'ratio'" in _error(tmp_path, d)


def test_out_of_range_names_stem_plugin_key_value_range(tmp_path):
    d = _settings().to_dict()
    d["stems"][1]["chain"][0]["params"]["gain_db"] = 99.0
    msg = _error(tmp_path, d)
    for part in ("stem 1", "bass.wav", "'gain'", "gain_db=99", "[-60, 30]", "set it inside that range"):
        assert part in msg, msg


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["stems"][0]["chain"].append({"plugin": "reverb", "params": {}}), "unknown plugin 'reverb'"),
    (lambda d: d["stems"][0]["chain"][0]["params"].update(foo_db=1), "unknown parameter 'foo_db'"),
    (lambda d: d["stems"][0].update(colour="red"), "unknown key 'colour'"),
    (lambda d: d.update(schema="automix.settings/9"), "not supported"),
    (lambda d: d.update(sample_rate=44100.5), "sample_rate"),
    (lambda d: d.update(stems=[]), "non-empty"),
    (lambda d: d["stems"][0]["chain"][3]["params"].update(gain_db="loud"), "must be a number"),
    (lambda d: d["stems"][0]["chain"][3]["params"].update(gain_db=True), "must be a number"),
    (lambda d: d["stems"][0].update(input_gain_db=1e9), "input_gain_db"),
    (lambda d: d["master"].update(input_gain_db=-1e9), "master: input_gain_db=-1000000000.0 must be a number in [-60, 60]"),
    (lambda d: d["master"].update(input_gain_db="-6"), "master: input_gain_db"),
])
def test_rejections(tmp_path, mutate, expected):
    d = _settings().to_dict()
    mutate(d)
    assert expected in _error(tmp_path, d)


def test_bad_json_names_line(tmp_path):
    assert "line 2" in _error(tmp_path, '{"schema":\n  oops}')


def test_nan_is_not_a_number(tmp_path):
    text = _settings().to_json().replace('"gain_db": 0.0', '"gain_db": NaN', 1)
    assert "NaN" in _error(tmp_path, text)


def test_stem_override_keeps_chains():
    s = _settings().with_stem_paths(["a.wav", "b.wav"])
    assert [x.path for x in s.stems] == ["a.wav", "b.wav"] and s.stems[0].input_gain_db == -3.5
    with pytest.raises(SettingsError):
        _settings().with_stem_paths(["a.wav"])
