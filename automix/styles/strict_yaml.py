"""YAML as strictly as a targets file needs: ``yaml.SafeLoader`` with the guards YAML 1.1 lacks.

Duplicate keys are rejected; base-60 numbers (``4:1`` is 241) and octal / hex / binary integers are rejected;
booleans and strings never pass where a number is expected (the checker's business, helped by the
:class:`_Rejected` markers); every mapping remembers the line of each key for the error messages.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import yaml

from automix.errors import StyleError
from automix.styles.schema import _MAX_FILE_BYTES


class _Node(dict):
    """A YAML mapping that remembers each key's line (1-based) and scalar text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict = {}
        self.texts: dict = {}


class _Rejected:
    """A scalar YAML 1.1 would silently turn into a surprising number."""

    def __init__(self, text: str, reason: str):
        self.text, self.reason = text, reason

    def __repr__(self) -> str:
        return self.text


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and keeps line numbers."""

    source = "<yaml>"


def _construct_map(loader: _StrictLoader, node: yaml.MappingNode):
    data = _Node()
    yield data
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise StyleError(f"{loader.source}:{line}: mapping keys must be text, got a {_kind(key)}") from None
        if key in seen:
            raise StyleError(
                f"{loader.source}:{line}: duplicate key {key!r} (first defined on line {seen[key]}); "
                "each key may appear only once per mapping"
            )
        seen[key] = line
    data.update(loader.construct_mapping(node, deep=True))  # also resolves "<<" merges
    for key_node, value_node in node.value:  # flattened: explicit keys come last and win
        key = loader.construct_object(key_node, deep=True)
        data.lines[key] = value_node.start_mark.line + 1
        data.texts[key] = value_node.value if isinstance(value_node, yaml.ScalarNode) else None


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode):
    text = node.value
    body = text.replace("_", "").lstrip("+-")
    if ":" in body:
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
        return _Rejected(text, f"is a YAML 1.1 base-60 number (it would load as {value}); "
                               "write a plain number, e.g. ratio: 4 for 4:1")
    if body[:2].lower() in ("0x", "0b") or (len(body) > 1 and body[0] == "0"):
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
        return _Rejected(text, f"is a YAML 1.1 hex/octal/binary integer (it would load as {value}); "
                               "write a plain decimal number")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: _StrictLoader, node: yaml.ScalarNode):
    if ":" in node.value:
        value = yaml.SafeLoader.construct_yaml_float(loader, node)
        return _Rejected(node.value, f"is a YAML 1.1 base-60 number (it would load as {value:g}); "
                                     "write a plain number")
    return yaml.SafeLoader.construct_yaml_float(loader, node)


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_yaml(path: Path, label: str):
    """Load one YAML document strictly; returns the raw object (maybe None)."""
    try:
        if not path.exists():
            raise StyleError(f"{label}: file not found; pass an existing YAML targets file")
        if path.is_dir():
            raise StyleError(f"{label}: is a directory; pass a YAML targets file")
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise StyleError(f"{label}: {size} bytes is too large for a targets file (limit {_MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise StyleError(f"{label}: cannot read: {_one_line(exc.strerror or exc)}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StyleError(f"{label}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    loader = _StrictLoader(text)
    loader.source = label
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        problem = exc.problem or exc.context or "malformed"
        if "expected a single document" in str(exc):
            problem = "holds several YAML documents ('---'); put all styles in one mapping"
        raise StyleError(f"{where}: invalid YAML: {_one_line(problem)}") from None
    except yaml.YAMLError as exc:
        raise StyleError(f"{label}: invalid YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()


def _kind(value) -> str:
    if isinstance(value, _Rejected):
        return "rejected number"
    if value is None:
        return "empty value"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__
