"""Brute force with SciPy (the oracle's own method, timed) and sparse-dot-topn (batch only).

``scipy``: per query ``q @ D.T`` as a sparse row (float32, SciPy's single-threaded sparse
product touches exactly the postings of the query's terms) + ``argpartition`` over the
non-zero scores. The batch figure is the same over all queries at once.

``sparse-dot-topn``: ``sp_matmul_topn(Q, D.T, top_n=k, n_threads=T)``, a C++ sparse product
that keeps the top k per row; its per-call cost scales with the whole matrix, so only the batch
mode is measured.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bench.common import Collection, Engine, K, Skip


def _topk_row(data: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    if data.size > k:
        part = np.argpartition(-data, k - 1)[:k]
        data, cols = data[part], cols[part]
    order = np.lexsort((cols, -data))
    return cols[order][data[order] > 0]


class ScipyEngine(Engine):
    name = "scipy"
    exact = True
    batch_threads = (1,)
    touched_note = "exhaustive (exact count)"

    def build(self, coll: Collection, workdir: str) -> None:
        self.dt = coll.doc_matrix().T.tocsr()         # (dim, n_docs): the inverted index
        self.dt.sort_indices()

    def prepare(self, coll: Collection) -> list:
        q = coll.query_matrix()
        return [q[i] for i in range(q.shape[0])]

    def search_one(self, q):
        row = q @ self.dt
        return _topk_row(row.data, row.indices, K)

    def search_batch(self, prepared, threads: int):
        if threads != 1:
            raise Skip("SciPy's sparse product is single-threaded")
        q = sp.vstack(prepared).tocsr()
        # Blocks of queries keep the (block, n_docs) product to ~20M entries (~240 MB).
        rows = max(1, 20_000_000 // max(self.dt.shape[1], 1))
        out = []
        for lo in range(0, q.shape[0], rows):
            s = (q[lo:lo + rows] @ self.dt).tocsr()
            out.extend(_topk_row(s.data[s.indptr[i]:s.indptr[i + 1]],
                                 s.indices[s.indptr[i]:s.indptr[i + 1]], K)
                       for i in range(s.shape[0]))
        return out

    def index_bytes(self) -> int:
        return int(self.dt.data.nbytes + self.dt.indices.nbytes + self.dt.indptr.nbytes)

    def postings(self) -> int:
        return int(self.dt.nnz)


class SparseDotTopnEngine(Engine):
    name = "sparse-dot-topn"
    exact = True
    single_query = False
    batch_threads = (1, 2)

    def __init__(self):
        try:
            import sparse_dot_topn
        except ImportError as exc:
            raise Skip(f"sparse-dot-topn is not installed ({exc})") from exc
        self._mod = sparse_dot_topn

    def build(self, coll: Collection, workdir: str) -> None:
        self.dt = coll.doc_matrix().T.tocsr()
        self.dt.sort_indices()

    def prepare(self, coll: Collection) -> list:
        q = coll.query_matrix()
        return [q[i] for i in range(q.shape[0])]

    def search_batch(self, prepared, threads: int):
        q = sp.vstack(prepared).tocsr()
        return self._mod.sp_matmul_topn(q, self.dt, top_n=K, sort=True,
                                        n_threads=None if threads == 1 else threads)

    def decode_batch(self, raw) -> list[np.ndarray]:
        raw = raw.tocsr()
        out = []
        for i in range(raw.shape[0]):
            lo, hi = raw.indptr[i], raw.indptr[i + 1]
            out.append(_topk_row(raw.data[lo:hi], raw.indices[lo:hi].astype(np.int64), K))
        return out

    def index_bytes(self) -> int:
        return int(self.dt.data.nbytes + self.dt.indices.nbytes + self.dt.indptr.nbytes)

    def postings(self) -> int:
        return int(self.dt.nnz)


def make(name: str, spec: dict) -> Engine:
    return ScipyEngine() if name == "scipy" else SparseDotTopnEngine()
