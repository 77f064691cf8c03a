"""Error hierarchy: every failure the library reports on purpose is an ``LsrError``.

Messages say what was received and how to fix it. ``InputError`` also subclasses ``ValueError``
so callers that already catch ``ValueError`` for bad arguments keep working.
"""

from __future__ import annotations


class LsrError(Exception):
    """Base class of all errors raised deliberately by lsr."""


class InputError(LsrError, ValueError):
    """Bad user input: a malformed corpus line, duplicate ids, an empty corpus, k < 1, ..."""


class IndexFormatError(LsrError):
    """An index directory is missing, truncated, corrupted or of another format version."""


class VocabularyMismatchError(LsrError):
    """The query encoder's vocabulary is not the one the index was built with."""


class MissingDependencyError(LsrError, ImportError):
    """An optional dependency (torch, transformers, faiss, pytrec_eval) is not installed."""


def require(module: str, extra: str):
    """Import an optional dependency or raise a ``MissingDependencyError`` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is required for this feature but is not installed; "
            f"install it with: pip install 'lsr[{extra}]'"
        ) from exc
