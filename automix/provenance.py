"""Which stem files a settings file was made from: a size and a content hash per stem.

A mix writes ``{"bytes": N, "sha256": hex}`` beside every stem path in its settings. Anything that
describes the mix to another tool (printed stems, DAW projects) checks the files still match before
writing: exported moves on a different take would be wrong without anyone noticing. The size is
checked first (instant); the hash reads the file (about 1 GB/s).
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor

from automix.errors import SessionError, SettingsError

_CHUNK = 1 << 20


def stem_record(path: str | os.PathLike) -> dict:
    """``{"bytes": size, "sha256": hex digest}`` of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return {"bytes": os.path.getsize(path), "sha256": digest.hexdigest()}


def records_beside(paths) -> Future:
    """A future of ``{path: stem_record(path)}`` for ``paths``, computed on a thread of its own: hashing reads and
    digests with the GIL released, so started early it takes its time from a core the mix leaves idle (the
    imports before the first stage)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="automix-hash")
    try:
        return pool.submit(lambda: {str(p): stem_record(p) for p in paths})
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one job


def record_stems(settings, records: dict[str, dict] | None = None) -> None:
    """Fill every stem's ``source`` from its file, in place (the mix just read them); ``records``, when given,
    maps the stems' paths to their :func:`stem_record` taken earlier (a stem missing from it is hashed now)."""
    for stem in settings.stems:
        known = None if records is None else records.get(str(stem.path))
        stem.source = stem_record(stem.path) if known is None else known


def check_stems(settings, *, require: bool = True) -> None:
    """Raise on the first stem that is missing or differs from the record in ``settings``.

    Args:
        settings: :class:`~automix.settings.MixSettings` with absolute (or working-directory) stem paths.
        require: a stem without a record (settings written by hand or by an older automix) is an error
            unless this is False.
    """
    for i, stem in enumerate(settings.stems):
        if not os.path.isfile(stem.path):
            raise SessionError(f"{stem.path}: stem {i + 1} of the settings is missing; put it back or edit the "
                             "settings' path", code="E_MISSING")
        record = stem.source
        if record is None:
            if require:
                raise SettingsError(f"{stem.path}: the settings hold no size and hash for this stem (written by "
                                    "hand or by an older automix); re-mix, or pass --unchecked to export anyway")
            continue
        size = os.path.getsize(stem.path)
        if size != record["bytes"]:
            raise SessionError(f"{stem.path}: stem changed since the mix ({size} bytes, the settings say "
                             f"{record['bytes']}); restore it or re-mix", code="E_STEM_CHANGED")
        if stem_record(stem.path)["sha256"] != record["sha256"]:
            raise SessionError(f"{stem.path}: stem changed since the mix (same size, different content); "
                             "restore it or re-mix", code="E_STEM_CHANGED")
