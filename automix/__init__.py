"""automix: offline auto-mixing and mastering with twin torch / pedalboard engines."""
__version__ = "0.1.0"
