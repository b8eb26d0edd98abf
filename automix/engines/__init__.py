"""The two twin renderers over the same :class:`~automix.settings.MixSettings`.

* :mod:`automix.engines.torch_engine`: differentiable, whole-buffer (training,
  validation, refinement).
* :mod:`automix.engines.pedalboard_engine`: streaming plugin graph
  (production renders, bounded memory).

Both read stems through :mod:`automix.audio_io` and apply each stem's
``input_gain_db`` as a leading ``gain`` stage, so they see identical input.
"""
