"""automix: offline auto-mixing and mastering with twin torch / pedalboard engines.

Public API (lazy, so ``import automix`` stays fast for the CLI)::

    from automix import (AutoMixChain, load_style_targets, StemFeatureExtractor,
                         MixingParameterPredictor, ChannelStrip, MasteringChain)
"""
__version__ = "0.1.0"

_EXPORTS = {
    "AutoMixChain": "automix.api", "ChannelStrip": "automix.api", "MasteringChain": "automix.api",
    "load_style_targets": "automix.styles", "get_style": "automix.styles",
    "StemFeatureExtractor": "automix.features", "MixingParameterPredictor": "automix.predictor",
    "mix_session": "automix.mixer", "MixSettings": "automix.settings",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'automix' has no attribute {name!r}")
