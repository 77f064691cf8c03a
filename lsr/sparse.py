"""``SparseBatch``: a batch of vocabulary-weighted sparse vectors in CSR form."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from lsr.errors import InputError


@dataclass(frozen=True)
class SparseBatch:
    """Sparse vectors over a vocabulary of ``dim`` terms, one row per text.

    indptr:  int64 (n + 1,)  row ``i`` owns ``indices[indptr[i]:indptr[i + 1]]``
    indices: int32 (nnz,)    term ids in ``[0, dim)``, sorted and unique within a row
    values:  float32 (nnz,)  term weights
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    dim: int

    def __post_init__(self) -> None:
        indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(self.indices, dtype=np.int32)
        values = np.ascontiguousarray(self.values, dtype=np.float32)
        if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0:
            raise InputError("indptr must be a 1-d array starting at 0")
        if np.any(np.diff(indptr) < 0):
            raise InputError("indptr must be non-decreasing")
        if indices.shape != values.shape or indices.size != indptr[-1]:
            raise InputError(
                f"indices ({indices.size}) and values ({values.size}) must both have "
                f"indptr[-1] = {int(indptr[-1])} entries"
            )
        if self.dim < 1:
            raise InputError(f"dim must be >= 1, got {self.dim}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.dim):
            raise InputError(
                f"term ids must lie in [0, {self.dim}), got range "
                f"[{int(indices.min())}, {int(indices.max())}]"
            )
        if not np.all(np.isfinite(values)):
            raise InputError("values must be finite (found NaN or inf)")
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "values", values)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[Sequence[int], Sequence[float]]], dim: int
    ) -> SparseBatch:
        """Build from ``(term_ids, weights)`` pairs; duplicate ids in a row are summed."""
        indptr, all_idx, all_val = [0], [], []
        for ids, weights in rows:
            ids = np.asarray(ids, dtype=np.int64)
            weights = np.asarray(weights, dtype=np.float32)
            if ids.shape != weights.shape:
                raise InputError("each row needs as many weights as term ids")
            uniq, inverse = np.unique(ids, return_inverse=True)
            summed = np.zeros(uniq.size, dtype=np.float32)
            np.add.at(summed, inverse, weights)
            keep = summed != 0
            all_idx.append(uniq[keep])
            all_val.append(summed[keep])
            indptr.append(indptr[-1] + int(keep.sum()))
        indices = np.concatenate(all_idx) if all_idx else np.zeros(0, np.int32)
        values = np.concatenate(all_val) if all_val else np.zeros(0, np.float32)
        return cls(np.asarray(indptr), indices, values, dim)

    @classmethod
    def from_scipy(cls, matrix) -> SparseBatch:
        """Build from any scipy sparse matrix (rows are vectors)."""
        csr = matrix.tocsr(copy=True)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        csr.sort_indices()
        return cls(csr.indptr, csr.indices, csr.data, csr.shape[1])

    @classmethod
    def from_dense(cls, array: np.ndarray) -> SparseBatch:
        """Build from a dense ``(n, dim)`` array, keeping non-zero entries."""
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2:
            raise InputError(f"expected a 2-d array, got shape {array.shape}")
        rows, cols = np.nonzero(array)
        indptr = np.zeros(array.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=array.shape[0]), out=indptr[1:])
        return cls(indptr, cols, array[rows, cols], array.shape[1])

    @classmethod
    def concat(cls, batches: Sequence[SparseBatch]) -> SparseBatch:
        """Stack batches over the same vocabulary, in order."""
        if not batches:
            raise InputError("cannot concatenate an empty list of batches")
        dims = {b.dim for b in batches}
        if len(dims) != 1:
            raise InputError(f"batches have different dims {sorted(dims)}")
        offsets = np.cumsum([0] + [int(b.indptr[-1]) for b in batches[:-1]])
        indptr = np.concatenate(
            [np.zeros(1, np.int64)] + [b.indptr[1:] + off for b, off in zip(batches, offsets)]
        )
        return cls(
            indptr,
            np.concatenate([b.indices for b in batches]),
            np.concatenate([b.values for b in batches]),
            batches[0].dim,
        )

    # -- views --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.indptr.size - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(term_ids, weights)`` of row ``i``."""
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.indices[lo:hi], self.values[lo:hi]

    def __getitem__(self, key: slice) -> SparseBatch:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("SparseBatch supports contiguous slices only, e.g. batch[10:20]")
        start, stop, _ = key.indices(len(self))
        stop = max(stop, start)
        lo, hi = self.indptr[start], self.indptr[stop]
        return SparseBatch(
            self.indptr[start : stop + 1] - lo,
            self.indices[lo:hi],
            self.values[lo:hi],
            self.dim,
        )

    def nnz_per_row(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_scipy(self):
        """The batch as a ``scipy.sparse.csr_matrix`` of shape ``(n, dim)``."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.values, self.indices, self.indptr), shape=(len(self), self.dim))

    def to_dicts(self, vocab: Sequence[str] | None = None) -> list[dict]:
        """Rows as ``{term: weight}`` dicts (term ids when no vocabulary is given)."""
        out = []
        for i in range(len(self)):
            ids, vals = self.row(i)
            keys = [vocab[j] for j in ids] if vocab is not None else ids.tolist()
            out.append(dict(zip(keys, vals.tolist())))
        return out
