"""Indexes (installed as ``lsr.index``): the Numba inverted index and the dense FAISS index."""

from __future__ import annotations

from lsr.index.builder import SparseIndexBuilder
from lsr.index.sparse_index import SparseIndex

__all__ = ["DenseIndex", "SparseIndex", "SparseIndexBuilder"]


def __getattr__(name: str):
    # DenseIndex is lazy so that importing lsr.index never imports faiss.
    if name == "DenseIndex":
        from lsr.index.dense_index import DenseIndex

        return DenseIndex
    raise AttributeError(f"module 'lsr.index' has no attribute {name!r}")
