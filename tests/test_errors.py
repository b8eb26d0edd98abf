"""One registry of error codes: every code the code can raise is registered and documented, and every
registered code is raised somewhere (no dead entries)."""
import re
from pathlib import Path

import pytest

from automix import errors
from automix.docs import error_table
from automix.errors import ERROR_CODES, AutomixError, SessionError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {p: p.read_text(encoding="utf-8") for p in (ROOT / "automix").rglob("*.py")}
CODE = re.compile(r"\bE_[A-Z][A-Z_]*[A-Z]\b(?<!\bE_LR)")  # E_L, E_R, E_LR: energies in a docstring


def _codes(text: str) -> set[str]:
    return set(CODE.findall(text))


def test_every_code_in_the_source_is_registered():
    unregistered = {(p.name, c) for p, text in SOURCES.items() for c in _codes(text) if c not in ERROR_CODES}
    assert not unregistered


def test_every_registered_code_can_be_raised():
    """Outside the registry itself: a literal at a raise site, or the default code of a class raised somewhere."""
    elsewhere = "\n".join(t for p, t in SOURCES.items() if p.name != "errors.py")
    used = _codes(elsewhere)
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, AutomixError) and re.search(rf"\b{cls.__name__}\(", elsewhere):
            used.add(cls.code)
    assert set(ERROR_CODES) - used == set()


def test_the_codes_are_documented_where_users_read_them():
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert error_table() in reference, "run `python -m automix.docs` and paste the error table into docs/reference.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _codes(readme) <= set(ERROR_CODES)


def test_an_unregistered_code_is_a_bug_not_a_new_code():
    assert SessionError("x.wav: empty", code="E_EMPTY").code == "E_EMPTY"
    with pytest.raises(ValueError, match="unregistered error code 'E_EMTPY'"):
        SessionError("x.wav: empty", code="E_EMTPY")


def test_exit_codes_follow_the_error():
    assert errors.UsageError("x").exit_code == errors.EXIT_USAGE == 2
    assert errors.InfrastructureError("x").exit_code == errors.EXIT_INTERNAL == 3
    assert sorted(errors.EXIT_SIGNAL.values()) == [130, 143]
