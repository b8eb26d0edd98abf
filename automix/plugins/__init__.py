"""The plugin registry: explicit and ordered.

The order here is the order parameters are flattened for the predictor and
listed by ``automix plugins``. Add a processor by writing ``plugins/<name>.py``
with a module-level ``PLUGIN`` and listing it below.
"""
from __future__ import annotations

from automix.errors import SettingsError
from automix.plugins import compressor, eq, gain, limiter, pan, polarity, saturation, stereo_width
from automix.plugins.spec import NumpyNode, ParamSpec, Plugin

REGISTRY: dict[str, Plugin] = {
    m.PLUGIN.name: m.PLUGIN
    for m in (gain, polarity, eq, compressor, saturation, pan, stereo_width, limiter)
}


def get_plugin(name: str) -> Plugin:
    """Look a plugin up by name; unknown names raise :class:`SettingsError`."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise SettingsError(f"unknown plugin {name!r}; known: {', '.join(REGISTRY)}") from None


__all__ = ["REGISTRY", "get_plugin", "Plugin", "ParamSpec", "NumpyNode"]
