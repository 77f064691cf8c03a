"""Seismic (``pyseismic-lsr``): approximate retrieval over blocked, summarized posting lists.

Build knobs (``SeismicIndex.build_from_dataset``): ``n_postings`` (average postings kept per
term after static pruning; 3500 by default, tuned for MS MARCO's 8.8M passages),
``centroid_fraction`` (blocks per list as a fraction of its length, 0.1), ``summary_energy``
(fraction of a block summary's mass kept, 0.4). Search knobs: ``query_cut`` (query terms kept,
by weight) and ``heap_factor`` (a block is scored when its summary bound exceeds
``heap_factor`` x the current k-th score).

Quirks handled here:
- Documents go in with ``add_documents_by_id`` (integer term ids, CSR); queries then name
  terms by the decimal string of their id, in a NumPy array of ``get_seismic_string()`` dtype
  (also required for the query-id array of ``batch_search``).
- ``batch_search(num_threads=...)`` is ignored: the Rust pool follows ``RAYON_NUM_THREADS``,
  read once per process, which the worker sets to the largest thread count asked for. The
  1-thread batch figure is therefore the loop of single ``search`` calls, which are
  single-threaded.
- Results are ``(query_id, score, doc_id)`` tuples with string doc ids: ours are ``str(i)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.common import Collection, Engine, K, Skip, doc_chunks

LIBRARY_DEFAULTS = {"n_postings": 3500, "centroid_fraction": 0.1, "summary_energy": 0.4}
DEFAULT_GRID = [(5, 0.9), (10, 0.9), (10, 1.0), (20, 0.9), (20, 1.0), (40, 1.0)]


class SeismicEngine(Engine):
    name = "seismic"
    exact = False
    batch_threads = (1, 2)

    def __init__(self, build: dict | None = None, grid=None):
        try:
            import seismic
        except ImportError as exc:
            raise Skip(f"pyseismic-lsr is not installed ({exc}); install the bench extra") from exc
        self._seismic = seismic
        self.build_params = {**LIBRARY_DEFAULTS, **(build or {})}
        self.grid = [tuple(g) for g in (grid or DEFAULT_GRID)]
        self.str_dtype = seismic.get_seismic_string()
        self.index = None
        self._bytes = None
        self.setting = {"query_cut": 10, "heap_factor": 0.9}

    def build(self, coll: Collection, workdir: str) -> None:
        seismic = self._seismic
        docs = coll.docs
        dataset = seismic.SeismicDataset(dim=docs.dim)
        for lo, hi in doc_chunks(docs.indptr, 1 << 24):   # bounded int64 copies
            a, b = docs.indptr[lo], docs.indptr[hi]
            dataset.add_documents_by_id([str(i) for i in range(lo, hi)],
                                        np.asarray(docs.indices[a:b], dtype=np.int64),
                                        np.ascontiguousarray(docs.values[a:b]),
                                        np.asarray(docs.indptr[lo:hi + 1] - a, dtype=np.int64))
        self.index = seismic.SeismicIndex.build_from_dataset(dataset, **self.build_params)
        del dataset

    def after_timing(self, workdir: str) -> None:
        """Save the index once to learn its size on disk (not part of the build time)."""
        prefix = Path(workdir) / "seismic"
        self.index.save(str(prefix))
        files = list(Path(workdir).glob("seismic*"))
        self._bytes = sum(f.stat().st_size for f in files)
        for f in files:
            os.unlink(f)

    def settings(self) -> list[dict]:
        return [{"query_cut": qc, "heap_factor": hf} for qc, hf in self.grid]

    def configure(self, setting: dict) -> None:
        self.setting = dict(setting)

    def prepare(self, coll: Collection) -> list:
        out = []
        for i in range(coll.n_queries):
            terms, weights = coll.queries.row(i)
            out.append((str(i), np.array([str(t) for t in terms], dtype=self.str_dtype),
                        np.ascontiguousarray(weights, dtype=np.float32)))
        return out

    def search_one(self, q):
        qid, terms, weights = q
        return self.index.search(qid, terms, weights, K, self.setting["query_cut"],
                                 self.setting["heap_factor"])

    def decode(self, raw) -> np.ndarray:
        return np.array([int(hit[2]) for hit in raw], dtype=np.int64)

    def search_batch(self, prepared, threads: int):
        if threads == 1:
            return [self.search_one(q) for q in prepared]
        if int(os.environ.get("RAYON_NUM_THREADS", "0") or 0) != threads:
            raise Skip(f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')} in this "
                       f"process, not {threads}")
        ids = np.array([q[0] for q in prepared], dtype=self.str_dtype)
        return self.index.batch_search(ids, [q[1] for q in prepared], [q[2] for q in prepared],
                                       K, self.setting["query_cut"],
                                       self.setting["heap_factor"], num_threads=threads)

    def index_bytes(self) -> int | None:
        return self._bytes

    def build_info(self) -> dict:
        return dict(self.build_params)


def make(name: str, spec: dict) -> Engine:
    return SeismicEngine(spec.get("build"), spec.get("approx_grid"))
