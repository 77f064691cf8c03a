"""Seeded random sparse collections and the brute-force oracle for the index tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lsr import SparseBatch


def random_batch(n: int, dim: int, density: float, seed: int, *, integer: bool = False,
                 empty_rows: int = 0) -> SparseBatch:
    """A seeded random batch; ``integer`` weights create exact score ties."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(n, dim, density=density, random_state=rng, format="csr",
                       dtype=np.float32)
    if integer:
        matrix.data = rng.integers(1, 4, size=matrix.data.size).astype(np.float32)
    else:
        matrix.data = rng.lognormal(0.0, 0.7, size=matrix.data.size).astype(np.float32)
    if empty_rows:
        rows = rng.choice(n, size=empty_rows, replace=False)
        matrix = matrix.tolil()
        for r in rows:
            matrix.rows[r] = []
            matrix.data[r] = []
        matrix = matrix.tocsr()
    return SparseBatch.from_scipy(matrix)


def oracle(queries: SparseBatch, docs_matrix, k: int):
    """Brute-force top-k: scipy Q @ D.T, positive scores only, ties by lower doc number."""
    scores = (queries.to_scipy().astype(np.float64) @ docs_matrix.T.astype(np.float64))
    scores = np.asarray(scores.todense())
    out = []
    for row in scores:
        order = np.lexsort((np.arange(row.size), -row))
        out.append([(int(d), float(row[d])) for d in order[:k] if row[d] > 0])
    return out


def skewed_batch(seed: int, n_docs: int = 3000, dim: int = 400):
    """Term-dependent weights and frequencies, as in real SPLADE vectors: pruning has work."""
    rng = np.random.default_rng(seed)
    df_rate = np.minimum(0.5, 0.3 / np.arange(1, dim + 1) ** 0.8)
    scale = rng.lognormal(0.0, 0.6, size=dim)
    rows, cols, vals = [], [], []
    for d in range(n_docs):
        terms = np.flatnonzero(rng.random(dim) < df_rate)
        rows += [d] * terms.size
        cols += terms.tolist()
        vals += (scale[terms] * rng.lognormal(0.0, 0.5, size=terms.size)).tolist()
    matrix = sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(n_docs, dim))
    return SparseBatch.from_scipy(matrix)
