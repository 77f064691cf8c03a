"""Benchmark collections, part 1: real splade-tiny vectors of BEIR SciFact, encoded once and cached.

    python scripts/benchdata.py real [--cache DIR] [--shared DIR] [--force]

Encodes the SciFact corpus (``doc.full_text``, max length 256) and its 300 test queries with
splade-tiny, builds inference-free queries for the same 300 queries (tokenizer ids without
special tokens, binary, weighted by IDF over the SciFact corpus; the document side is the same
splade-tiny document vectors), and stores everything as one ``.npz`` (float32 CSR, no pickles).
Encoding takes ~70-80 s on 2 cores; when the cache file exists it is only loaded.

Paths: data and model from ``--shared`` / ``$LSR_SHARED`` (default ``../shared`` beside the
repo); cache in ``--cache`` / ``$LSR_BENCH_CACHE`` (default ``.cache/bench/`` in the repo root,
git-ignored).

Use from other scripts. Scripts are run from the repo root as ``python scripts/NAME.py``; a
script that needs this module puts its own folder on ``sys.path`` first::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from benchdata import load_real   # dict(docs, queries, if_queries, doc_ids, query_ids, vocab)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lsr.sparse import SparseBatch

REPO = Path(__file__).resolve().parents[1]
REAL_FILE = "scifact-splade-tiny-256.npz"
#: Bumped when the layout of the cached files changes; older caches are refused, not misread.
CACHE_VERSION = 1
MAX_LENGTH = 256


def shared_dir(shared: str | Path | None = None) -> Path:
    """``shared`` if given, else ``$LSR_SHARED``, else ``../shared`` beside the repo."""
    if shared is not None:
        return Path(shared)
    return Path(os.environ.get("LSR_SHARED", REPO.parent / "shared"))


def cache_dir(cache: str | Path | None = None) -> Path:
    """``cache`` if given, else ``$LSR_BENCH_CACHE``, else ``.cache/bench`` in the repo root."""
    if cache is not None:
        return Path(cache)
    return Path(os.environ.get("LSR_BENCH_CACHE", REPO / ".cache" / "bench"))


# -- npz helpers (shared with synthetic.py) ------------------------------------------------------
def batch_arrays(prefix: str, batch: SparseBatch) -> dict[str, np.ndarray]:
    return {f"{prefix}_indptr": batch.indptr, f"{prefix}_indices": batch.indices,
            f"{prefix}_values": batch.values, f"{prefix}_dim": np.int64(batch.dim)}


def batch_from(arrays, prefix: str) -> SparseBatch:
    return SparseBatch(arrays[f"{prefix}_indptr"], arrays[f"{prefix}_indices"],
                       arrays[f"{prefix}_values"], int(arrays[f"{prefix}_dim"]))


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` through a temporary sibling, so a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_version(arrays, path: Path) -> None:
    version = int(arrays["cache_version"]) if "cache_version" in arrays else None
    if version != CACHE_VERSION:
        raise RuntimeError(
            f"{path} has cache version {version}, this script writes {CACHE_VERSION}: delete it "
            "and run again to rebuild it"
        )


# -- real collection -----------------------------------------------------------------------------
def encode_real(shared: Path) -> dict[str, np.ndarray]:
    """Encode SciFact with splade-tiny; the arrays that go into the cache file."""
    import lsr
    from lsr.encoders.inference_free import TokenWeightQueryEncoder, compute_idf
    from lsr.eval.beir import load_beir

    dataset = load_beir(shared / "beir" / "scifact", split="test")
    texts = [doc.full_text for doc in dataset.corpus]
    query_ids = list(dataset.queries)
    query_texts = [dataset.queries[q] for q in query_ids]
    model = shared / "models" / "splade-tiny"
    encoder = lsr.load_encoder(f"splade:{model}", max_length=MAX_LENGTH)

    start = time.perf_counter()
    docs = encoder.encode_documents(texts)
    doc_seconds = time.perf_counter() - start
    queries = encoder.encode_queries(query_texts)
    idf = compute_idf(encoder.tokenizer, texts, vocab_size=encoder.dim)
    if_queries = TokenWeightQueryEncoder(encoder.tokenizer, idf).encode_queries(query_texts)
    meta = {"encoder": encoder.config(), "dataset": str(shared / "beir" / "scifact"),
            "split": "test", "doc_encode_seconds": doc_seconds,
            "idf": "ln(1 + (N - df + 0.5) / (df + 0.5)) over doc.full_text, no special tokens"}
    return {
        "cache_version": np.int64(CACHE_VERSION),
        "meta": np.array(json.dumps(meta)),
        "doc_ids": np.array([doc.id for doc in dataset.corpus]),
        "query_ids": np.array(query_ids),
        "vocab": np.array(encoder.vocab),
        "idf": idf,
        **batch_arrays("docs", docs),
        **batch_arrays("queries", queries),
        **batch_arrays("if_queries", if_queries),
    }


def load_real(
    cache: str | Path | None = None, *, shared: str | Path | None = None, force: bool = False
) -> dict:
    """The real SciFact collection, encoded on first use and cached.

    Returns ``dict(docs, queries, if_queries: SparseBatch, doc_ids, query_ids, vocab: str
    arrays, idf: float32 (dim,), meta: dict)``. ``docs`` has 5,183 rows, both query batches
    300 rows in the same order as ``query_ids``; all share ``dim`` = 30,522.
    """
    path = cache_dir(cache) / REAL_FILE
    if force or not path.is_file():
        shared = shared_dir(shared)
        if not (shared / "beir" / "scifact").is_dir():
            raise FileNotFoundError(
                f"{shared / 'beir' / 'scifact'} does not exist: set LSR_SHARED or --shared"
            )
        print(f"encoding SciFact with splade-tiny into {path} (~75 s) ...", file=sys.stderr)
        save_npz_atomic(path, encode_real(shared))
    with np.load(path, allow_pickle=False) as arrays:
        check_version(arrays, path)
        return {
            "docs": batch_from(arrays, "docs"),
            "queries": batch_from(arrays, "queries"),
            "if_queries": batch_from(arrays, "if_queries"),
            "doc_ids": arrays["doc_ids"],
            "query_ids": arrays["query_ids"],
            "vocab": arrays["vocab"],
            "idf": arrays["idf"],
            "meta": json.loads(str(arrays["meta"])),
        }


def _summary(name: str, batch: SparseBatch) -> str:
    nnz = batch.nnz_per_row()
    return (f"{name:<11} {len(batch):>6} rows  nnz/row mean {nnz.mean():7.1f} p50 "
            f"{np.median(nnz):5.0f} p99 {np.percentile(nnz, 99):5.0f}  mean weight "
            f"{batch.values.mean():.3f}  max {batch.values.max():.3f}")


# -- statistics (synthetic.py's fit validation; usable on any collection) ----------------------
def collection_stats(docs: SparseBatch, queries: SparseBatch, k: int = 10,
                     batch: int = 100) -> dict:
    """Statistics that matter for pruning, with exhaustive top-k scores (SciPy) as ground truth.

    ``UB`` is ``sum_t q_t * max_d w_td`` over a query's terms, the loosest per-term upper bound
    on any document's score; ``UB / top-1`` says how far from the answer a pruning method
    starts. Rates are per document (df / N).
    """
    n, dim = len(docs), docs.dim
    df = np.bincount(docs.indices, minlength=dim)
    top_df = np.sort(df)[::-1]
    max_w = np.zeros(dim, dtype=np.float32)
    np.maximum.at(max_w, docs.indices, docs.values)
    matrix = docs.to_scipy()
    tops, means = [], []
    for lo in range(0, len(queries), batch):
        scores = (matrix @ queries[lo : lo + batch].to_scipy().T.tocsr()).toarray().T
        part = -np.partition(-scores, k - 1, axis=1)[:, :k]
        tops.append(-np.sort(-part, axis=1))
        means.append(scores.mean(axis=1))
    top, mean = np.concatenate(tops), np.concatenate(means)
    ub = np.array([float(queries.row(i)[1] @ max_w[queries.row(i)[0]])
                   for i in range(len(queries))])
    ok = top[:, 0] > 0
    nd, nq = docs.nnz_per_row(), queries.nnz_per_row()
    return {
        "docs": n, "queries": len(queries),
        "doc nnz mean": nd.mean(), "doc nnz p50": np.median(nd),
        "doc nnz p99": np.percentile(nd, 99),
        "query nnz mean": nq.mean(), "query nnz p50": np.median(nq),
        "query nnz p99": np.percentile(nq, 99),
        "doc weight mean": float(docs.values.mean()), "doc weight max": float(docs.values.max()),
        "query weight mean": float(queries.values.mean()),
        "top-1 term df rate": top_df[0] / n, "top-10 terms df rate mean": top_df[:10].mean() / n,
        "10th term df rate": top_df[9] / n, "terms with df > 0": int((df > 0).sum()),
        "postings in top-1% terms": top_df[: math.ceil(0.01 * dim)].sum() / df.sum(),
        "mean query-doc score": mean.mean(),
        "top-1 score mean": top[:, 0].mean(), "top-1 score p50": np.median(top[:, 0]),
        "top-10 score mean": top[:, k - 1].mean(), "top-10 score p50": np.median(top[:, k - 1]),
        "top-10 / top-1": (top[ok, k - 1] / top[ok, 0]).mean(),
        "top-10 / mean score": (top[ok, k - 1] / mean[ok]).mean(),
        "UB / top-1 mean": (ub[ok] / top[ok, 0]).mean(),
        "UB / top-1 p50": np.median(ub[ok] / top[ok, 0]),
        "UB / top-10 mean": (ub[ok] / top[ok, k - 1]).mean(),
    }


def print_table(columns: dict) -> None:
    names = list(columns)
    rows = list(dict.fromkeys(key for col in columns.values() for key in col))
    width = max(map(len, rows))
    print(f"{'':<{width}}  " + "  ".join(f"{n:>15}" for n in names))
    for row in rows:
        cells = []
        for name in names:
            v = columns[name].get(row)
            cells.append(f"{'':>15}" if v is None else f"{v:>15,.0f}"
                         if abs(v) >= 1000 or float(v).is_integer() else f"{v:>15.3f}")
        print(f"{row:<{width}}  " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", choices=["real"])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--shared", type=Path, default=None)
    parser.add_argument("--force", action="store_true", help="re-encode even if cached")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    real = load_real(args.cache, shared=args.shared, force=args.force)
    path = cache_dir(args.cache) / REAL_FILE
    print(f"{path}  ({path.stat().st_size / 2**20:.1f} MiB, ready in "
          f"{time.perf_counter() - start:.1f} s; documents encoded in "
          f"{real['meta']['doc_encode_seconds']:.1f} s)")
    for name in ("docs", "queries", "if_queries"):
        print(_summary(name, real[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
