"""The generated reference tables match the code (one source of truth for ranges), and the README opens as CI runs."""
from pathlib import Path

from automix.docs import plugin_table, style_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
REFERENCE = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")


def test_plugin_table_is_current():
    assert plugin_table() in REFERENCE, "run `python -m automix.docs` and paste the plugin table into docs/reference.md"


def test_style_schema_is_current():
    assert style_table() in REFERENCE, "run `python -m automix.docs` and paste the style table into docs/reference.md"


def test_readme_opens_with_the_two_commands():
    block = README.split("```")[1].strip().splitlines()
    commands = [l for l in block if l and not l.startswith("bash")]
    assert len(commands) == 2
    assert "automix demo" in commands[0] and "pytest" in commands[1]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines(), ".ci/run must run the README's test command verbatim"
