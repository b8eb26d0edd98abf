"""Style presets: one YAML file per preset in this package (shipped as package data).

The loader, validation and dataclasses live in :mod:`automix.styles`; this
package holds the preset files and re-exports the public API so that
``import styles`` and ``import automix.styles`` are interchangeable.
"""
from automix.styles import (  # noqa: F401
    BUILTIN_STYLES,
    BUSES,
    ROLES,
    STYLE_KEYS,
    VECTOR_FIELDS,
    FrequencyBalance,
    StyleTargets,
    Tolerances,
    describe_styles,
    get_style,
    load_style_targets,
    preset_dir,
    schema_markdown,
)

__all__ = [
    "BUILTIN_STYLES", "BUSES", "ROLES", "STYLE_KEYS", "VECTOR_FIELDS", "FrequencyBalance",
    "StyleTargets", "Tolerances", "describe_styles", "get_style", "load_style_targets", "preset_dir", "schema_markdown",
]
