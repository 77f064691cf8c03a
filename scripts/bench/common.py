"""What every engine adapter shares: the adapter interface, timing, memory and accuracy.

An adapter wraps one search engine behind four calls, so the worker can time all of them the
same way::

    engine.build(coll, workdir)          # everything the engine needs before its first query
    prepared = engine.prepare(coll)      # queries in the engine's own input form (not timed)
    raw = engine.search_one(prepared[i]) # one query, one thread (timed per query)
    engine.search_batch(prepared, threads)  # all queries at once (timed as a whole)
    engine.decode(raw) -> int64 (<=k,)   # internal document numbers, best first (not timed)

``settings()`` lists the search-time knob settings to sweep (one table row each); ``configure``
switches between them without rebuilding.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

K = 10
COLLECTION = "collection"


class Skip(Exception):  # noqa: N818 - a row that cannot run here, with the reason why
    """Raised by an adapter when it does not apply (missing package, unsupported API, ...)."""


@dataclass
class Collection:
    """One benchmark collection as the adapters see it.

    docs / queries: ``lsr.SparseBatch`` (float32 CSR). ``doc_texts`` / ``query_texts`` are set
    for collections whose engines start from text (BM25, inference-free end to end).
    """

    name: str
    docs: object
    queries: object
    vocab: list[str] | None = None
    doc_texts: list[str] | None = None
    query_texts: list[str] | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_docs(self) -> int:
        return len(self.docs)

    @property
    def n_queries(self) -> int:
        return len(self.queries)

    def doc_matrix(self) -> sp.csr_matrix:
        return self.docs.to_scipy()

    def query_matrix(self) -> sp.csr_matrix:
        return self.queries.to_scipy()


class Engine:
    """Base adapter. Subclasses set ``name`` and implement build / search_one / decode."""

    name = "engine"
    exact = False           # exact over its own (possibly quantized) weights
    batch_threads: tuple[int, ...] | None = None  # thread counts its batch mode supports
    single_query = True     # False: only a batch mode is meaningful (sparse-dot-topn)
    touched_note = "exhaustive count"

    def applies_to(self, coll_name: str) -> str | None:
        """``None`` if the engine runs on this collection, else why not."""
        return "rand-text is for the text engines" if coll_name == "rand-text" else None

    def preload(self) -> None:
        """Load/compile the engine's code before the memory baseline (JIT is not the index)."""

    def build(self, coll: Collection, workdir: str) -> None:
        raise NotImplementedError

    def settings(self) -> list[dict]:
        return [{}]

    def configure(self, setting: dict) -> None:
        pass

    def prepare(self, coll: Collection) -> list:
        return [coll.queries[i:i + 1] for i in range(coll.n_queries)]

    def search_one(self, q):
        raise NotImplementedError

    def search_batch(self, prepared: list, threads: int):
        raise Skip(f"{self.name} has no batch mode")

    def decode(self, raw) -> np.ndarray:
        return np.asarray(raw, dtype=np.int64)

    def decode_batch(self, raw) -> list[np.ndarray] | None:
        """Per-query results of ``search_batch`` (for engines that only batch); else None."""
        return None

    def index_bytes(self) -> int | None:
        return None

    def postings(self) -> int | None:
        """Postings the index stores (None: use the collection's non-zeros)."""
        return None

    def reference(self, coll: Collection):
        """(queries, docs) whose float64 brute force is "exact" for this engine.

        ``COLLECTION`` (the default): the collection's own vectors, whose top-k is computed
        once per collection and cached. ``None``: no accuracy (e.g. another analyzer).
        """
        return COLLECTION

    def own_weights(self, coll: Collection) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
        """(docs, queries) as the engine scores them, when that differs from float32 input."""
        return None

    def extra_timings(self, prepared: list) -> dict:
        """Optional breakdown figures for the row (e.g. query encoding alone)."""
        return {}

    def touched_counts(self, coll: Collection) -> np.ndarray | None:
        """Postings an exhaustive pass over this engine's own index reads per query, if the
        engine's index differs from the reference vectors (None: count from the reference)."""
        return None

    def after_timing(self, workdir: str) -> None:
        """Work that must not count in the build time or peak memory (e.g. saving to disk)."""

    def build_info(self) -> dict:
        return {}


# -- process memory ------------------------------------------------------------------------------
def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, ``clear_refs`` 5); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    return _status_kb("VmHWM") / 1024


# -- timing --------------------------------------------------------------------------------------
def time_queries(search, prepared: list, budget_s: float, warmup: int = 50):
    """Time every query separately (perf_counter_ns) until all ran or ``budget_s`` passed.

    Returns (raw results in query order, latencies in µs as float64). A warm-up pass over the
    first ``warmup`` queries runs first (JIT compilation, caches, page faults).
    """
    for q in prepared[:warmup]:
        search(q)
    results, lat = [], []
    deadline = time.perf_counter() + budget_s
    clock = time.perf_counter_ns
    for q in prepared:
        t0 = clock()
        raw = search(q)
        t1 = clock()
        results.append(raw)
        lat.append(t1 - t0)
        if time.perf_counter() > deadline:
            break
    return results, np.asarray(lat, dtype=np.float64) / 1000.0


def time_batch(run, repeats: int = 2) -> tuple[float, object]:
    """Best wall time of ``repeats`` runs after one warm-up run: (seconds, last result)."""
    out = run()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t0)
    return best, out


def latency_stats(lat_us: np.ndarray) -> dict:
    if lat_us.size == 0:
        return {}
    return {"n_timed": int(lat_us.size), "mean_us": float(lat_us.mean()),
            "p50_us": float(np.percentile(lat_us, 50)),
            "p99_us": float(np.percentile(lat_us, 99)),
            "qps_1t": float(1e6 / lat_us.mean())}


# -- exact reference and accuracy ----------------------------------------------------------------
def doc_chunks(indptr: np.ndarray, max_nnz: int):
    """(lo, hi) row ranges of at most ``max_nnz`` non-zeros each (at least one row)."""
    n = indptr.size - 1
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(indptr, indptr[lo] + max_nnz, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        yield lo, hi
        lo = hi


def topk_reference(queries: sp.csr_matrix, docs: sp.csr_matrix, k: int = K,
                   chunk_nnz: int = 1 << 25, block_bytes: int = 1 << 28):
    """Exact top-``k`` by brute force: float64 ``Q @ D.T`` + argpartition, in blocks.

    Documents go in chunks of at most ``chunk_nnz`` non-zeros (one float64 transposed copy at
    a time) and queries in blocks whose dense score matrix stays under ``block_bytes``. Returns
    (indices int64 (n, k) -1 padded, scores float64 (n, k), kth float64 (n,)); ``kth`` is the
    k-th best positive score (the smallest positive one when fewer than k documents score above
    zero; +inf when none does). Ties are broken by lower document number.
    """
    q = queries.astype(np.float64).tocsr()
    n = q.shape[0]
    best_s = np.full((n, k), -np.inf)
    best_i = np.full((n, k), -1, dtype=np.int64)
    for dlo, dhi in doc_chunks(docs.indptr, chunk_nnz):
        dt = docs[dlo:dhi].astype(np.float64).T.tocsr()   # (dim, chunk)
        width = dt.shape[1]
        kk = min(k, width)
        rows = max(1, block_bytes // (8 * width))
        for lo in range(0, n, rows):
            dense = (q[lo:lo + rows] @ dt).toarray()
            part = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
            s = np.take_along_axis(dense, part, axis=1)
            s_all = np.concatenate([best_s[lo:lo + rows], s], axis=1)
            i_all = np.concatenate([best_i[lo:lo + rows], part + dlo], axis=1)
            i_key = np.where(i_all < 0, np.iinfo(np.int64).max, i_all)
            order = np.lexsort((i_key, -s_all), axis=1)[:, :k]
            best_s[lo:lo + rows] = np.take_along_axis(s_all, order, axis=1)
            best_i[lo:lo + rows] = np.take_along_axis(i_all, order, axis=1)
    positive = best_s > 0
    idx = np.where(positive, best_i, -1)
    scores = np.where(positive, best_s, 0.0)
    kth = np.where(positive.any(axis=1),
                   np.where(positive, best_s, np.inf).min(axis=1), np.inf)
    return idx, scores, kth


def accuracy_at_k(results: list[np.ndarray], queries: sp.csr_matrix, docs: sp.csr_matrix,
                  ref_idx: np.ndarray, kth: np.ndarray, k: int = K,
                  rel_tol: float = 1e-6) -> float:
    """Mean over queries of |returned ∩ exact top-k| / |exact top-k|, tie-aware.

    A returned document counts when its exact score (float64 dot product under the reference
    weights) reaches the k-th best exact score within ``rel_tol`` (float32 rounding: engines
    that sum in float32 may order near-ties either way), so documents tied at the cut are all
    right. Queries whose exact top-k is empty count 1.
    """
    q64 = queries.astype(np.float64).tocsr()
    docs = docs.tocsr()
    total = 0.0
    for i, got in enumerate(results):
        need = int((ref_idx[i] >= 0).sum())
        if need == 0:
            total += 1.0
            continue
        got = np.asarray(got, dtype=np.int64)[:k]
        got = got[got >= 0]
        if got.size == 0:
            continue
        s = (docs[got].astype(np.float64) @ q64[i].T).toarray().ravel()
        tol = rel_tol * max(abs(kth[i]), 1e-30)
        total += min(need, int((s >= kth[i] - tol).sum())) / need
    return total / max(len(results), 1)


def postings_touched(queries: sp.csr_matrix, docs: sp.csr_matrix) -> np.ndarray:
    """Per query, the summed document frequency of its terms (exhaustive TAAT work)."""
    df = np.bincount(docs.indices, minlength=docs.shape[1]).astype(np.int64)
    q = queries.tocsr()
    return np.add.reduceat(np.append(df[q.indices], 0), q.indptr[:-1]) * (np.diff(q.indptr) > 0)


def env_threads(max_threads: int) -> dict[str, str]:
    """Environment for a worker: every thread pool capped at ``max_threads``."""
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "RAYON_NUM_THREADS", "OMP_NUM_THREADS",
                "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(max_threads)
    return env
