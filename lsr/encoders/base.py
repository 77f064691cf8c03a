"""The encoder contract shared by every sparse and dense encoder.

A sparse encoder maps texts to a ``SparseBatch`` over a fixed vocabulary. An index records the
encoder's ``config()`` and ``vocab_fingerprint()`` so that search can rebuild the query side and
refuse a query encoder whose vocabulary differs from the one the index was built with.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lsr.sparse import SparseBatch


def fingerprint(vocab: Sequence[str]) -> str:
    """sha256 of the vocabulary in id order: equal fingerprints mean identical term ids."""
    digest = hashlib.sha256()
    for term in vocab:
        digest.update(term.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


class SparseEncoder(ABC):
    """Texts -> vocabulary-weighted sparse vectors.

    Subclasses set ``kind`` (the name written to index manifests) and implement the two encode
    methods, ``vocab``, ``config`` and ``save_query_side``.
    """

    kind: str = ""
    #: True when queries are encoded without a neural model (BM25, inference-free).
    query_needs_model: bool = True

    @property
    @abstractmethod
    def vocab(self) -> list[str]:
        """Term strings in id order; ``len(vocab)`` is the vector dimension."""

    @property
    def dim(self) -> int:
        return len(self.vocab)

    def vocab_fingerprint(self) -> str:
        return fingerprint(self.vocab)

    @abstractmethod
    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """Encode documents; row ``i`` of the result is ``texts[i]``."""

    @abstractmethod
    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """Encode queries; row ``i`` of the result is ``texts[i]``."""

    @abstractmethod
    def config(self) -> dict:
        """JSON-serialisable description: ``kind`` plus whatever rebuilds this encoder."""

    def save_query_side(self, directory: Path) -> None:
        """Write what query encoding needs into ``directory`` (an index's ``encoder/`` folder).

        Encoders whose queries need the neural model write nothing; the manifest's config
        names the model instead. BM25 and inference-free encoders write their vocabulary and
        weight tables so that search needs nothing outside the index.
        """


class DenseEncoder(ABC):
    """Texts -> fixed-size float vectors (for dense and hybrid retrieval)."""

    kind: str = "dense"

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """float32 ``(len(texts), dim)``."""

    @abstractmethod
    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """float32 ``(len(texts), dim)``."""

    @abstractmethod
    def config(self) -> dict: ...


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
