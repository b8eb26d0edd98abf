"""Style presets, user targets files and the strict YAML schema (automix.styles)."""
from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest
import yaml

from automix import plugins
from automix.errors import AutomixError, StyleError
from automix.envelope import ENVELOPE_FIELDS, Envelope
from automix.styles import (
    BUILTIN_STYLES,
    ENVELOPE_RANGES,
    ROLES,
    VECTOR_FIELDS,
    StyleTargets,
    describe_styles,
    get_style,
    load_style_targets,
    default_envelope,
    preset_dir,
    schema_markdown,
)
from tests.conftest import SEED_TARGETS

# ------------------------------------------------------------------ setup --


def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path, name=None) -> str:
    with pytest.raises(StyleError) as info:
        if name is None:
            load_style_targets(path)
        else:
            get_style(name, path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    return msg


MINIMAL = """\
lufs: -11.0
spectral_centroid_hz: 2500
stereo_ms_ratio: 0.5
frequency_balance: {low: 0.3, mid: 0.5, high: 0.2}
"""


# ---------------------------------------------------------------- presets --

ISSUE = {
    "rock_punk": (-9.5, 2800.0, 0.6, ("aggressive", "bright", "compressed")),
    "rnb_ballad": (-12.0, 1800.0, 0.8, ("warm", "dynamic", "wide")),
    "country_pop": (-10.5, 2200.0, 0.7, ("clear", "balanced")),
}


@pytest.mark.parametrize("name", list(ISSUE))
def test_presets_carry_the_issue_numbers(name):
    lufs, centroid, ms, words = ISSUE[name]
    style = get_style(name)
    assert style.name == name
    assert style.lufs == lufs
    assert style.spectral_centroid_hz == centroid
    assert style.stereo_ms_ratio == ms
    assert style.character == words
    assert style.true_peak_ceiling_dbtp == -1.0
    assert style.tolerances.lufs_lu == 0.1
    assert style.tolerances.true_peak_db == 0.0
    assert style.tolerances.centroid_rel == pytest.approx(0.10)
    assert style.tolerances.ms_abs == pytest.approx(0.10)
    assert sum(style.frequency_balance.as_tuple()) == pytest.approx(1.0, abs=1e-6)
    assert set(style.role_balance_db) == set(ROLES)
    assert style.role_balance_db["vocal"] == 0.0
    assert set(style.processing_chains) >= {"stem", "master"}
    assert style.processing_chains["master"]["limiter"]["true_peak"] is True
    assert Path(style.source).name == f"{name}.yaml"


def test_presets_are_exactly_the_shipped_yaml_files():
    assert (preset_dir() / "__init__.py").is_file()
    shipped = sorted(p.stem for p in preset_dir().glob("*.yaml"))
    assert shipped == sorted(BUILTIN_STYLES + ("envelope",))
    assert list(load_style_targets()) == list(BUILTIN_STYLES) == ["rock_punk", "rnb_ballad", "country_pop"]


def test_presets_differ_the_way_their_character_says():
    rock, rnb, country = (get_style(n) for n in BUILTIN_STYLES)
    # bright vs warm: more top in rock, more low in the ballad; rock scoops the mids, country keeps them full
    assert rock.frequency_balance.high > country.frequency_balance.high > rnb.frequency_balance.high
    assert rnb.frequency_balance.low > rock.frequency_balance.low > country.frequency_balance.low
    assert country.frequency_balance.mid > rnb.frequency_balance.mid > rock.frequency_balance.mid
    # compressed vs dynamic
    assert rock.chain_defaults("stem")["compressor"]["ratio"] == 4.0
    assert rock.chain_defaults("master")["compressor"]["ratio"] == 2.0
    assert rnb.chain_defaults("stem")["compressor"]["ratio"] < country.chain_defaults("stem")["compressor"]["ratio"]
    assert rnb.chain_defaults("master")["compressor"]["ratio"] < rock.chain_defaults("master")["compressor"]["ratio"]
    # wide
    assert rnb.role_width["pads"] > max(rock.role_width["pads"], country.role_width["pads"])


@pytest.mark.parametrize("name", BUILTIN_STYLES)
def test_preset_chains_are_inside_the_plugin_specs(name):
    chains = get_style(name).processing_chains
    checked = 0
    for slot, chain in chains.items():
        for plugin_name, params in chain.items():
            plugin = plugins.get_plugin(plugin_name)
            for param, value in params.items():
                spec = plugin.spec(param)
                assert spec.minimum <= float(value) <= spec.maximum, (slot, plugin_name, param)
                checked += 1
    assert checked > 20
    assert "ceiling_db" not in chains["master"]["limiter"]


def test_chain_defaults_merge_role_over_stem():
    rock = get_style("rock_punk")
    vocal = rock.chain_defaults("vocal")
    assert vocal["compressor"] == {"threshold_db": -24.0, "ratio": 5.0, "attack_ms": 3.0, "release_ms": 60.0}
    assert vocal["saturation"] == rock.chain_defaults("stem")["saturation"]  # inherited from stem
    assert vocal["saturation"]["drive_db"] == 6.0
    assert vocal["eq"]["highpass_hz"] == 100.0
    assert rock.chain_defaults("keys") == rock.chain_defaults("stem")  # no keys chain in rock_punk
    vocal["compressor"]["ratio"] = 99.0  # a copy: the style is untouched
    assert rock.chain_defaults("vocal")["compressor"]["ratio"] == 5.0
    with pytest.raises(StyleError, match="unknown chain slot 'cowbell'"):
        rock.chain_defaults("cowbell")


def test_styles_are_immutable():
    rock = get_style("rock_punk")
    with pytest.raises(FrozenInstanceError):
        rock.lufs = -5.0
    with pytest.raises(TypeError):
        rock.role_balance_db["vocal"] = 3.0
    with pytest.raises(TypeError):
        rock.processing_chains["master"]["compressor"]["ratio"] = 3.0
    assert hash(rock) == hash(get_style("rock_punk"))


def test_vector_order_and_normalisation():
    rock = get_style("rock_punk")
    assert VECTOR_FIELDS[:4] == ("lufs", "true_peak_ceiling_dbtp", "spectral_centroid_hz", "stereo_ms_ratio")
    np.testing.assert_array_equal(rock.vector(), [-9.5, -1.0, 2800.0, 0.6, 0.25, 0.416667, 0.333333])
    unit = rock.vector(normalized=True)
    assert unit.shape == (7,)
    np.testing.assert_allclose(unit[:2], [(-9.5 + 30) / 25, 5 / 6])
    assert unit[2] == pytest.approx(math.log(2800 / 500) / math.log(8000 / 500))
    assert unit[3] == pytest.approx(0.4)
    assert np.all((unit >= 0) & (unit <= 1))


def test_describe_styles_rows():
    rows = describe_styles()
    assert [r["name"] for r in rows] == list(BUILTIN_STYLES)
    rock = rows[0]
    assert (rock["lufs"], rock["spectral_centroid_hz"], rock["stereo_ms_ratio"]) == (-9.5, 2800.0, 0.6)
    assert rock["character"] == "aggressive, bright, compressed"
    assert rock["true_peak_ceiling_dbtp"] == -1.0
    assert rock["balance_low"] + rock["balance_mid"] + rock["balance_high"] == pytest.approx(1.0)
    json.dumps(rows, allow_nan=False)


def test_schema_markdown_names_every_key():
    table = schema_markdown()
    for key in ("lufs", "true_peak_ceiling_dbtp", "tolerances.lufs_lu", "role_balance_db", "-30 .. -5 LUFS",
                "low_energy", "processing_chains.compression.threshold", "envelope.centre_roles",
                "magnitude spectrum"):
        assert key in table
    for key in ENVELOPE_FIELDS:
        assert f"`envelope.{key}`" in table


# ------------------------------------------------------------- round trip --


@pytest.mark.parametrize("name", BUILTIN_STYLES)
def test_round_trip_dict_and_yaml(tmp_path, name):
    style = get_style(name)
    data = style.to_dict()
    json.dumps(data, allow_nan=False)
    assert StyleTargets.from_dict(name, data) == style
    path = write(tmp_path, yaml.safe_dump({name: data}, sort_keys=False), "several.yaml")
    again = load_style_targets(path)[name]
    assert again == style
    assert again.fingerprint() == style.fingerprint()
    assert again.source == str(path)


def test_fingerprint_tracks_content():
    rock = get_style("rock_punk")
    louder = StyleTargets.from_dict("rock_punk", {**rock.to_dict(), "lufs": -9.0})
    assert louder != rock
    assert louder.fingerprint() != rock.fingerprint()


# -------------------------------------------------------------- user files --


def test_single_style_file_is_named_after_the_stem_and_gets_defaults(tmp_path):
    path = write(tmp_path, MINIMAL, "my_master.yaml")
    styles = load_style_targets(path)
    assert list(styles) == ["my_master"]
    style = styles["my_master"]
    assert style.lufs == -11.0 and style.spectral_centroid_hz == 2500.0 and style.stereo_ms_ratio == 0.5
    assert style.true_peak_ceiling_dbtp == -1.0
    assert style.tolerances.lufs_lu == 0.1 and style.tolerances.balance_abs == 0.1
    assert style.processing_chains == {}
    assert style.role_balance_db["bass"] == -3.0
    assert get_style(None, path) is not None and get_style(None, path).name == "my_master"


def test_multi_style_file(tmp_path):
    text = "quiet:\n" + _indent(MINIMAL.replace("-11.0", "-16.0")) + "loud:\n" + _indent(MINIMAL.replace("-11.0", "-8.0"))
    text += "  true_peak_ceiling_dbtp: -0.5\n  role_balance_db: {bass: -1.0}\n"
    text += "  processing_chains:\n    master:\n      compressor: {ratio: 3, attack_ms: 20}\n"
    path = write(tmp_path, text, "targets.yaml")
    styles = load_style_targets(path)
    assert list(styles) == ["quiet", "loud"]
    assert styles["quiet"].lufs == -16.0
    loud = styles["loud"]
    assert loud.lufs == -8.0 and loud.true_peak_ceiling_dbtp == -0.5
    assert loud.role_balance_db["bass"] == -1.0 and loud.role_balance_db["vocal"] == 0.0
    assert loud.chain_defaults("master") == {"compressor": {"ratio": 3.0, "attack_ms": 20.0}}
    assert get_style("loud", path) == loud
    with pytest.raises(StyleError, match="holds several styles; pick one with --style: quiet, loud"):
        get_style(None, path)
    msg = error_of(path, name="rock_punk")
    assert "unknown style 'rock_punk'" in msg and "quiet, loud" in msg


def _indent(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.splitlines())


def test_extends_a_preset_and_overrides_keys(tmp_path):
    path = write(tmp_path, """\
my_punk:
  extends: rock_punk
  lufs: -8.5
  character: [aggressive, raw]
  tolerances: {lufs_lu: 0.5}
  processing_chains:
    master:
      compressor: {ratio: 3.0}
  role_balance_db: {guitar: -1.0}
""")
    mine = load_style_targets(path)["my_punk"]
    rock = get_style("rock_punk")
    assert mine.extends == "rock_punk"
    assert mine.lufs == -8.5
    assert mine.character == ("aggressive", "raw")
    assert mine.spectral_centroid_hz == rock.spectral_centroid_hz
    assert mine.frequency_balance == rock.frequency_balance
    assert mine.tolerances.lufs_lu == 0.5 and mine.tolerances.ms_abs == rock.tolerances.ms_abs
    master = mine.chain_defaults("master")["compressor"]
    assert master["ratio"] == 3.0
    assert master["threshold_db"] == rock.chain_defaults("master")["compressor"]["threshold_db"]
    assert mine.chain_defaults("master")["limiter"] == rock.chain_defaults("master")["limiter"]
    assert mine.role_balance_db["guitar"] == -1.0 and mine.role_balance_db["bass"] == rock.role_balance_db["bass"]


def test_extends_within_a_file_and_overriding_a_preset_of_the_same_name(tmp_path):
    path = write(tmp_path, """\
base:
  extends: rnb_ballad
  lufs: -13.0
child:
  extends: base
  stereo_ms_ratio: 0.9
rock_punk:
  extends: rock_punk
  true_peak_ceiling_dbtp: -2.0
""")
    styles = load_style_targets(path)
    assert styles["child"].lufs == -13.0 and styles["child"].stereo_ms_ratio == 0.9
    assert styles["child"].spectral_centroid_hz == 1800.0
    assert styles["rock_punk"].true_peak_ceiling_dbtp == -2.0 and styles["rock_punk"].lufs == -9.5


def test_extends_replaces_frequency_balance_as_a_whole(tmp_path):
    path = write(tmp_path, "extends: rnb_ballad\nfrequency_balance: {low: 0.5, mid: 0.4, high: 0.1}\n", "warmer.yaml")
    assert load_style_targets(path)["warmer"].frequency_balance.as_tuple() == (0.5, 0.4, 0.1)
    path = write(tmp_path, "extends: rnb_ballad\nfrequency_balance: {low: 0.5}\n", "partial.yaml")
    assert "partial.frequency_balance is missing 'mid'" in error_of(path)


def test_extends_errors(tmp_path):
    cycle = write(tmp_path, "a:\n  extends: b\nb:\n  extends: a\n", "cycle.yaml")
    assert "extends cycle: a -> b -> a" in error_of(cycle)
    unknown = write(tmp_path, "a:\n  extends: jazz_trio\n", "unknown.yaml")
    msg = error_of(unknown)
    assert f"{unknown}:2:" in msg and "unknown style 'jazz_trio'" in msg and "rock_punk" in msg


def test_balance_weights_are_normalised(tmp_path):
    path = write(tmp_path, MINIMAL.replace("high: 0.2", "high: 0.21"), "near.yaml")
    fb = load_style_targets(path)["near"].frequency_balance
    assert sum(fb.as_tuple()) == pytest.approx(1.0, abs=2e-6)
    assert fb.high == pytest.approx(0.21 / 1.01, abs=1e-6)
    path = write(tmp_path, MINIMAL.replace("{low: 0.3, mid: 0.5, high: 0.2}", "{low: 3, mid: 0, high: 1}"), "w.yaml")
    assert load_style_targets(path)["w"].frequency_balance.as_tuple() == (0.75, 0.0, 0.25)


# -------------------------------------------------------------- rejections --


def test_unknown_top_level_key_lists_allowed_keys(tmp_path):
    path = write(tmp_path, MINIMAL + "lufz: -9\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}:5: unknown key 'lufz' in mine")
    assert "did you mean 'lufs'" in msg
    assert "allowed: extends, description, character, lufs" in msg


def test_unknown_nested_key_names_its_path(tmp_path):
    path = write(tmp_path, MINIMAL + "tolerances: {lufs: 0.5}\n")
    msg = error_of(path)
    assert "unknown key 'lufs' in mine.tolerances" in msg
    assert "lufs_lu, true_peak_db, centroid_rel, ms_abs, balance_abs" in msg


def test_unknown_role_and_chain_slot(tmp_path):
    msg = error_of(write(tmp_path, MINIMAL + "role_balance_db: {vocals: 0}\n"))
    assert "unknown role 'vocals' in mine.role_balance_db" in msg and "did you mean 'vocal'" in msg
    msg = error_of(write(tmp_path, MINIMAL + "processing_chains: {mix_bus: {}}\n"))
    assert "unknown chain slot (bus or role) 'mix_bus'" in msg and "stem, master, vocal" in msg


@pytest.mark.parametrize("text, line, first", [
    (MINIMAL + "lufs: -9.0\n", 5, 1),
    (MINIMAL + "processing_chains:\n  master:\n    compressor:\n      ratio: 2\n      ratio: 4\n", 9, 8),
    ("a:\n" + _indent(MINIMAL) + "a:\n" + _indent(MINIMAL), 6, 1),
])
def test_duplicate_keys_are_rejected_with_line_numbers(tmp_path, text, line, first):
    path = write(tmp_path, text)
    msg = error_of(path)
    assert msg.startswith(f"{path}:{line}: duplicate key")
    assert f"first defined on line {first}" in msg


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = write(tmp_path, """\
base: &base
  lufs: -11.0
  spectral_centroid_hz: 2500
  stereo_ms_ratio: 0.5
  frequency_balance: {low: 0.3, mid: 0.5, high: 0.2}
louder:
  <<: *base
  lufs: -9.0
""")
    styles = load_style_targets(path)
    assert styles["louder"].lufs == -9.0 and styles["louder"].stereo_ms_ratio == 0.5


@pytest.mark.parametrize("literal, shown", [("NO", "NO (YAML 1.1 reads it as the boolean false)"),
                                            ("yes", "yes (YAML 1.1 reads it as the boolean true)"),
                                            ("true", "the boolean true")])
def test_boolean_where_a_number_is_expected(tmp_path, literal, shown):
    path = write(tmp_path, MINIMAL.replace("stereo_ms_ratio: 0.5", f"stereo_ms_ratio: {literal}"))
    msg = error_of(path)
    assert msg == f"{path}:3: mine.stereo_ms_ratio must be a number in [0, 1.5], got {shown}"


def test_sexagesimal_is_rejected_not_read_as_base_60(tmp_path):
    # PyYAML reads 4:1 as 241 (4*60 + 1): a compressor ratio typed the usual way.
    assert yaml.safe_load("ratio: 4:1") == {"ratio": 241}
    path = write(tmp_path, MINIMAL + "processing_chains:\n  stem:\n    compressor: {ratio: 4:1}\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}:7: mine.processing_chains.stem.compressor.ratio must be a number in [1, 20]")
    assert "4:1 (which is a YAML 1.1 base-60 number (it would load as 241)" in msg
    assert "ratio: 4 for 4:1" in msg
    # also where text is expected, and as a float
    assert "1:30 (which is a YAML 1.1 base-60" in error_of(write(tmp_path, MINIMAL + "description: 1:30\n"))
    msg = error_of(write(tmp_path, MINIMAL.replace("2500", "41:40.5")))
    assert "spectral_centroid_hz must be a number" in msg and "it would load as 2500.5" in msg


def test_octal_and_hex_integers_are_rejected(tmp_path):
    msg = error_of(write(tmp_path, MINIMAL + "role_width: {bass: 01}\n"))
    assert "mine.role_width.bass must be a number" in msg and "hex/octal/binary" in msg
    msg = error_of(write(tmp_path, MINIMAL.replace("2500", "0x9C4")))
    assert "it would load as 2500" in msg


@pytest.mark.parametrize("literal, fragment", [
    ('"-11.0"', "got text '-11.0' (quoted, or not a YAML 1.1 number"),
    ("-11 LUFS", "got text '-11 LUFS'"),
    ("", "got an empty value"),
    ("[-11]", "got a list"),
])
def test_text_and_other_types_where_a_number_is_expected(tmp_path, literal, fragment):
    path = write(tmp_path, MINIMAL.replace("lufs: -11.0", f"lufs: {literal}"))
    msg = error_of(path)
    assert msg.startswith(f"{path}:1: mine.lufs must be a number in [-30, -5] LUFS")
    assert fragment in msg


def test_exponent_without_dot_is_a_string_in_yaml_1_1(tmp_path):
    msg = error_of(write(tmp_path, MINIMAL.replace("2500", "2.5e3").replace("spectral_centroid_hz: 2.5e3", "spectral_centroid_hz: 2e3")))
    assert "got text '2e3' (quoted, or not a YAML 1.1 number: write e.g. 1000.0 or 1.0e+3" in msg
    ok = write(tmp_path, MINIMAL.replace("2500", "2.5e+3"), "ok.yaml")
    assert load_style_targets(ok)["ok"].spectral_centroid_hz == 2500.0


@pytest.mark.parametrize("literal", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_rejected(tmp_path, literal):
    msg = error_of(write(tmp_path, MINIMAL.replace("0.5\n", f"{literal}\n", 1)))
    assert "mine.stereo_ms_ratio must be a finite number in [0, 1.5]" in msg


@pytest.mark.parametrize("old, new, fragment", [
    ("lufs: -11.0", "lufs: -40", "mine.lufs = -40 is out of range [-30, -5] LUFS"),
    ("2500", "9000", "mine.spectral_centroid_hz = 9000 is out of range [500, 8000] Hz"),
    ("stereo_ms_ratio: 0.5", "stereo_ms_ratio: 2", "mine.stereo_ms_ratio = 2 is out of range [0, 1.5]"),
    ("high: 0.2}", "high: 0.2}\ntrue_peak_ceiling_dbtp: 0.5", "mine.true_peak_ceiling_dbtp = 0.5 is out of range [-6, 0] dBTP"),
    ("high: 0.2}", "high: 0.2}\ntolerances: {lufs_lu: 10}", "mine.tolerances.lufs_lu = 10 is out of range [0.01, 6] LU"),
    ("high: 0.2}", "high: 0.2}\nrole_pan: {guitar: 1.5}", "mine.role_pan.guitar = 1.5 is out of range [0, 1]"),
    ("high: 0.2}", "high: 0.2}\nrole_width: {pads: 5}", "mine.role_width.pads = 5 is out of range [0, 4]"),
    ("high: 0.2}", "high: 0.2}\nrole_balance_db: {bass: -50}", "mine.role_balance_db.bass = -50 is out of range [-30, 12] dB"),
])
def test_out_of_range_names_key_path_value_and_range(tmp_path, old, new, fragment):
    path = write(tmp_path, MINIMAL.replace(old, new))
    msg = error_of(path)
    assert fragment in msg


def test_out_of_range_chain_parameter_uses_the_plugin_spec(tmp_path):
    spec = plugins.get_plugin("compressor").spec("ratio")
    path = write(tmp_path, f"""\
rock_punk:
  extends: rock_punk
  processing_chains:
    master:
      compressor:
        ratio: {spec.maximum * 2:g}
""")
    msg = error_of(path)
    assert msg == (f"{path}:6: rock_punk.processing_chains.master.compressor.ratio = {spec.maximum * 2:g} "
                   f"is out of range [{spec.minimum:g}, {spec.maximum:g}]; set it inside that range")


def test_unknown_plugin_and_unknown_parameter(tmp_path):
    msg = error_of(write(tmp_path, MINIMAL + "processing_chains:\n  stem:\n    reverb: {mix: 0.2}\n"))
    assert ":7: unknown plugin 'reverb' in mine.processing_chains.stem" in msg
    assert "compressor" in msg and "saturation" in msg
    msg = error_of(write(tmp_path, MINIMAL + "processing_chains:\n  stem:\n    saturation: {drive: 3}\n"))
    assert "unknown parameter 'drive' for plugin 'saturation' in mine.processing_chains.stem.saturation" in msg
    allowed = ", ".join(plugins.get_plugin("saturation").param_names)
    assert "did you mean 'drive_db'" in msg and msg.endswith(f"allowed: {allowed}")


def test_limiter_ceiling_is_set_by_the_target_not_the_chain(tmp_path):
    msg = error_of(write(tmp_path, MINIMAL + "processing_chains:\n  master:\n    limiter: {ceiling_db: -1.0}\n"))
    assert "mine.processing_chains.master.limiter.ceiling_db is not allowed" in msg
    assert "true_peak_ceiling_dbtp" in msg


def test_bool_parameter_accepts_booleans_only(tmp_path):
    ok = write(tmp_path, MINIMAL + "processing_chains:\n  master:\n    limiter: {true_peak: false}\n", "ok.yaml")
    assert load_style_targets(ok)["ok"].processing_chains["master"]["limiter"]["true_peak"] is False
    msg = error_of(write(tmp_path, MINIMAL + "processing_chains:\n  master:\n    limiter: {true_peak: 0.5}\n"))
    assert "limiter.true_peak = 0.5 must be true/false (or 0/1)" in msg


@pytest.mark.parametrize("balance, fragment", [
    ("{low: 0, mid: 0, high: 0}", ":4: mine.frequency_balance: all three weights are 0; give at least one positive"),
    ("{low: -0.1, mid: 0.5, high: 0.2}", ":4: mine.frequency_balance.low = -0.1 must be a non-negative weight"),
    ("{low: 0.3, mid_energy: 0.5, high: 0.2}", "mine.frequency_balance mixes low, mid, high with low_energy"),
    ("{low_energy: 0.3, mid_energy: 0.5}", "mine.frequency_balance is missing 'high_energy'; give all of low_energy"),
    ("{low: 0.3, mid: 0.5, high: yes}", "mine.frequency_balance.high must be a number"),
    ("{lows: 0.3, mid: 0.5, high: 0.2}", "unknown key 'lows' in mine.frequency_balance"),
])
def test_balance_weights_are_checked(tmp_path, balance, fragment):
    path = write(tmp_path, MINIMAL.replace("{low: 0.3, mid: 0.5, high: 0.2}", balance))
    msg = error_of(path)
    assert fragment in msg


def test_missing_required_key(tmp_path):
    path = write(tmp_path, MINIMAL.replace("stereo_ms_ratio: 0.5\n", ""))
    msg = error_of(path)
    assert "style 'mine' is missing required key 'stereo_ms_ratio'" in msg and "extends: <preset>" in msg


def test_lufs_too_loud_for_the_ceiling(tmp_path):
    path = write(tmp_path, MINIMAL.replace("lufs: -11.0", "lufs: -6.0") + "true_peak_ceiling_dbtp: -4.0\n")
    assert "mine.lufs = -6 is too loud for true_peak_ceiling_dbtp = -4" in error_of(path)


@pytest.mark.parametrize("text, fragment", [
    ("", "is empty"),
    ("# only a comment\n", "is empty"),
    ("- lufs: -9\n", "top level must be a mapping (one style, or style names to styles), got a list"),
    ("just text\n", "top level must be a mapping"),
    ("{}\n", "defines no styles"),
    ("a: 3\n", "style 'a' must be a mapping of targets"),
    ("lufs: [\n", "invalid YAML"),
    (MINIMAL + "---\n" + MINIMAL, "holds several YAML documents"),
    ("!!python/object:os.system {}\n", "invalid YAML"),
    ("bad name:\n  extends: rock_punk\n", "style name 'bad name' is not valid"),
    (MINIMAL + "character: aggressive\n", "mine.character must be a list of words"),
    (MINIMAL + "frequency_balance: 0.3\n", "duplicate key"),
    ("a:\n  extends: 3\n", "a.extends must be a style name, got a number"),
    ("3: {}\n", "top-level keys must be text"),
])
def test_malformed_files(tmp_path, text, fragment):
    assert fragment in error_of(write(tmp_path, text))


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert error_of(missing) == f"{missing}: file not found; pass an existing YAML targets file"
    assert error_of(tmp_path) == f"{tmp_path}: is a directory; pass a YAML targets file"


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(MINIMAL.encode() + b"description: caf\xe9\n")
    assert "not UTF-8 text" in error_of(path)


def test_errors_are_style_errors_with_a_stable_code(tmp_path):
    with pytest.raises(AutomixError) as info:
        load_style_targets(tmp_path / "nope.yaml")
    assert isinstance(info.value, StyleError) and info.value.code == "E_STYLE"
    with pytest.raises(StyleError, match="unknown style 'jazz'; available styles: rock_punk, rnb_ballad, country_pop"):
        get_style("jazz")


# ------------------------------------------------- the original targets form --

SEED = SEED_TARGETS


def test_the_seed_targets_file_loads_as_written(tmp_path):
    style = load_style_targets(write(tmp_path, SEED, "seed.yaml"))["rock_punk"]
    assert style.lufs == -9.5 and style.spectral_centroid_hz == 2800.0 and style.stereo_ms_ratio == 0.6
    assert style.frequency_balance.as_tuple() == pytest.approx((0.25, 0.416667, 0.333333), abs=1e-6)
    stem = {"threshold_db": -18.0, "ratio": 4.0, "attack_ms": 10.0, "release_ms": 100.0}
    assert style.chain_defaults("stem") == {"compressor": stem}
    assert style.chain_defaults("vocal")["compressor"] == stem  # no role chain: the stem's
    assert "compression" not in style.processing_chains  # folded into stem.compressor
    again = StyleTargets.from_dict("rock_punk", style.to_dict())
    assert again == style and again.fingerprint() == style.fingerprint()


def test_compression_shorthand_precedence(tmp_path):
    path = write(tmp_path, MINIMAL + """\
processing_chains:
  compression: {threshold: -18, ratio: 4, attack: 10, release: 100}
  stem:
    compressor: {ratio: 2.5}
  vocal:
    compressor: {threshold_db: -24}
""")
    style = load_style_targets(path)["mine"]
    # explicit stem.compressor keys win over the shorthand; a role's chain wins over both
    assert style.chain_defaults("stem")["compressor"] == {"threshold_db": -18.0, "ratio": 2.5, "attack_ms": 10.0,
                                                          "release_ms": 100.0}
    assert style.chain_defaults("vocal")["compressor"]["threshold_db"] == -24.0
    assert style.chain_defaults("vocal")["compressor"]["ratio"] == 2.5
    # the preset carries the shorthand too: a role with its own compressor keeps it
    rock = get_style("rock_punk")
    assert rock.chain_defaults("stem")["compressor"]["threshold_db"] == -18.0
    assert rock.chain_defaults("keys")["compressor"]["threshold_db"] == -18.0
    assert rock.chain_defaults("vocal")["compressor"]["threshold_db"] == -24.0


def test_compression_shorthand_overrides_the_parent_under_extends(tmp_path):
    path = write(tmp_path, "extends: rnb_ballad\nprocessing_chains:\n  compression: {threshold: -12}\n", "mine.yaml")
    style = load_style_targets(path)["mine"]
    parent = get_style("rnb_ballad").chain_defaults("stem")["compressor"]
    assert style.chain_defaults("stem")["compressor"] == {**parent, "threshold_db": -12.0}


@pytest.mark.parametrize("chain, fragment", [
    ("compression: {threshold: -18, knee: 6}",
     ":6: unknown key 'knee' (threshold dB, ratio, attack ms, release ms) in mine.processing_chains.compression; "
     "allowed: threshold, ratio, attack, release"),
    ("compression: {ratio: 40}", ":6: mine.processing_chains.compression.ratio = 40 is out of range [1, 20]"),
    ("compression: {threshold: 6}", "mine.processing_chains.compression.threshold = 6 is out of range [-60, 0]"),
    ("compression: {attack: 4:1}", "compression.attack must be a number in [0.1, 100]"),
    ("compression: -18", "mine.processing_chains.compression must be a mapping"),
    ("compresion: {ratio: 4}", "did you mean 'compression'"),
])
def test_compression_shorthand_is_checked(tmp_path, chain, fragment):
    path = write(tmp_path, MINIMAL + "processing_chains:\n  " + chain + "\n")
    msg = error_of(path)
    assert fragment in msg


# ------------------------------------------------------------ mapping view --


def test_style_is_a_read_only_mapping_of_its_targets():
    from collections.abc import Mapping

    targets = load_style_targets()
    rock = targets["rock_punk"]
    assert targets["rock_punk"]["lufs"] == -9.5
    assert isinstance(rock, Mapping)
    assert rock["spectral_centroid_hz"] == 2800.0 and rock["stereo_ms_ratio"] == 0.6
    assert rock["true_peak_ceiling_dbtp"] == -1.0
    assert dict(rock["frequency_balance"]) == pytest.approx(
        {"low_energy": 0.25, "mid_energy": 0.416667, "high_energy": 0.333333})
    assert rock["tolerances"]["lufs_lu"] == 0.1
    assert rock["processing_chains"]["stem"]["compressor"]["threshold_db"] == -18.0
    assert rock["envelope"]["stem_width_max"] == 1.5
    assert rock["character"] == ("aggressive", "bright", "compressed")
    assert list(rock) == list(rock.keys()) == [k for k in rock.to_dict()]
    assert len(rock) == len(rock.to_dict())
    assert "lufs" in rock and "name" not in rock and 3 not in rock
    assert rock.get("lufs") == -9.5 and rock.get("loudness", -14) == -14
    plain = {k: v for k, v in rock.to_dict().items() if k != "frequency_balance"}
    assert {k: rock[k] for k in plain} == {k: _frozen(v) for k, v in plain.items()}
    with pytest.raises(KeyError, match="no target 'loudness'; valid keys: description, character, lufs"):
        rock["loudness"]
    with pytest.raises(TypeError):
        rock["lufs"] = -8.0
    with pytest.raises(TypeError):
        rock["role_pan"]["vocal"] = 0.5
    with pytest.raises(TypeError):
        rock["frequency_balance"]["low_energy"] = 0.5
    # equality and hashing stay the dataclass's
    assert rock == get_style("rock_punk") and hash(rock) == hash(get_style("rock_punk"))
    assert rock != dict(rock) and rock != get_style("country_pop")
    assert get_style(None, rock) is rock  # one style where a mapping of styles is accepted


def _frozen(v):
    if isinstance(v, dict):
        return {k: _frozen(x) for k, x in v.items()}
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


# ------------------------------------------------------ presets and envelope --


@pytest.mark.parametrize("name", BUILTIN_STYLES)
def test_presets_centre_the_centre_roles_and_stay_narrow_enough(name):
    style = get_style(name)
    for role in ("kick", "snare", "bass", "vocal"):
        assert abs(style.role_pan[role]) <= 0.1, role
    for role in ("overheads", "other", "guitar", "keys", "pads"):
        assert 0.3 <= style.role_pan[role] <= 0.9, role
    assert max(style.role_width.values()) <= 1.5
    assert style.envelope == default_envelope()


def test_envelope_yaml_is_the_one_source_of_the_defaults():
    shared = default_envelope()
    data = yaml.safe_load((preset_dir() / "envelope.yaml").read_text())
    assert list(data) == list(ENVELOPE_FIELDS)  # every field, in definition order
    assert shared.to_dict() == data
    with pytest.raises(TypeError):  # the dataclass has no defaults of its own: no second source
        Envelope()
    assert set(ENVELOPE_RANGES) == set(ENVELOPE_FIELDS) - {"centre_roles"}
    for key, (lo, hi, _) in ENVELOPE_RANGES.items():
        assert lo <= getattr(shared, key) <= hi, key
    # one comment per field
    lines = [ln for ln in (preset_dir() / "envelope.yaml").read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == len(ENVELOPE_FIELDS) and all("  # " in ln for ln in lines)
    assert StyleTargets("x", -10.0, 2000.0, 0.5, get_style("rock_punk").frequency_balance).envelope == shared


def test_envelope_overrides_extend_and_round_trip(tmp_path):
    path = write(tmp_path, """\
base:
  extends: rock_punk
  envelope: {stem_eq_boost_max_db: 4.5, centre_roles: [kick, bass, vocal]}
child:
  extends: base
  envelope: {master_width_max: 1.2}
""")
    styles = load_style_targets(path)
    base, child = styles["base"], styles["child"]
    assert base.envelope == default_envelope().replace({"stem_eq_boost_max_db": 4.5,
                                                        "centre_roles": ("kick", "bass", "vocal")})
    assert child.envelope.stem_eq_boost_max_db == 4.5 and child.envelope.master_width_max == 1.2
    assert child.envelope.centre_roles == ("kick", "bass", "vocal")
    assert child.envelope.stem_width_max == default_envelope().stem_width_max
    rock = get_style("rock_punk")
    assert base.fingerprint() != rock.fingerprint() and base != rock
    assert base.to_dict()["envelope"]["stem_eq_boost_max_db"] == 4.5
    dumped = write(tmp_path, yaml.safe_dump({"child": child.to_dict()}, sort_keys=False), "dumped.yaml")
    again = load_style_targets(dumped)["child"]
    assert again == child and again.fingerprint() == child.fingerprint()
    rows = describe_styles(styles)
    assert rows[1]["envelope_overrides"] == ("stem_eq_boost_max_db=4.5, master_width_max=1.2, "
                                             "centre_roles=[kick, bass, vocal]")
    assert rows[1]["envelope"]["master_width_max"] == 1.2
    assert describe_styles()[0]["envelope_overrides"] == ""
    assert describe_styles()[0]["stem_compressor"]["threshold_db"] == -18.0


@pytest.mark.parametrize("envelope, fragment", [
    ("{stem_eq_boost_max: 6}", "unknown key 'stem_eq_boost_max' in mine.envelope (did you mean 'stem_eq_boost_max_db'?); "
                               "allowed: stem_eq_boost_max_db, stem_eq_cut_min_db"),
    ("{stem_eq_boost_max_db: 24}", "mine.envelope.stem_eq_boost_max_db = 24 is out of range [0, 18] dB"),
    ("{stem_eq_cut_min_db: 3}", "mine.envelope.stem_eq_cut_min_db = 3 is out of range [-18, 0] dB"),
    ("{stem_width_max: 5}", "mine.envelope.stem_width_max = 5 is out of range [0, 4]"),
    ("{centre_pan_max: 1.5}", "mine.envelope.centre_pan_max = 1.5 is out of range [0, 1]"),
    ("{mono_folddown_loss_max_lu: 20}", "mine.envelope.mono_folddown_loss_max_lu = 20 is out of range [0, 12] LU"),
    ("{net_from_hz: 10}", "mine.envelope.net_from_hz = 10 is out of range [20, 20000] Hz"),
    ("{net_from_hz: 16000}", "mine.envelope.net_from_hz = 16000 must be below mine.envelope.net_to_hz = 16000"),
    ("{master_width_min: 1.4}", "mine.envelope.master_width_min = 1.4 must be at most mine.envelope.master_width_max"),
    ("{stem_drive_max_db: yes}", "mine.envelope.stem_drive_max_db must be a number in [0, 36] dB, got yes"),
    ("{centre_roles: [kick, vocals]}", "unknown role 'vocals' in mine.envelope.centre_roles (did you mean 'vocal'?)"),
    ("{centre_roles: kick}", "mine.envelope.centre_roles must be a list of roles"),
    ("{centre_roles: [kick, kick]}", "lists a role twice"),
    ("[6]", "mine.envelope must be a mapping"),
    ("{stem_width_max: 1.0}\nrole_width: {pads: 1.2}",
     "mine.role_width.pads = 1.2 is above envelope.stem_width_max = 1; lower it or raise the limit"),
    ("{centre_pan_max: 0.05}\nrole_pan: {bass: 0.1}", "mine.role_pan.bass = 0.1 is above envelope.centre_pan_max = 0.05"),
])
def test_envelope_is_checked(tmp_path, envelope, fragment):
    path = write(tmp_path, MINIMAL + "envelope: " + envelope + "\n")
    msg = error_of(path)
    assert fragment in msg
    assert msg.startswith(f"{path}:")
