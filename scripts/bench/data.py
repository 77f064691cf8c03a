"""Benchmark collections by name, loaded the same way in every worker.

- ``real``: splade-tiny vectors of BEIR SciFact (5,183 documents, 300 test queries), from
  ``scripts/benchdata.py`` (encoded once, cached); doc and query texts come along for the
  engines that start from text (BM25).
- ``real-if``: the same documents with inference-free queries (binary tokens x IDF).
- ``synth-100k`` / ``synth-1m`` / ``synth-4m``: collections fitted to the real vectors, from
  ``scripts/synthetic.py`` (``load_synthetic(n_docs, cache)``).
- ``rand-N`` (e.g. ``rand-5k``): seeded random vectors for smoke tests (``--quick``): a Zipf-ish
  term distribution with log-normal weights, no cache, built in a second.
- ``rand-text``: the sample corpus shipped in ``lsr/data/sample`` for the text engines in
  ``--quick`` runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from bench.common import Collection, Skip

SCRIPTS = Path(__file__).resolve().parents[1]
REPO = SCRIPTS.parent
SYNTH_SIZES = {"synth-100k": 100_000, "synth-1m": 1_000_000, "synth-4m": 4_000_000}


def _scripts_on_path() -> None:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))


def shared_dir() -> Path:
    return Path(os.environ.get("LSR_SHARED", REPO.parent / "shared"))


def parse_rand(name: str) -> int:
    size = name.split("-", 1)[1].lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(size[-1], 1)
    return int(float(size.rstrip("km")) * mult)


def random_batch(n: int, dim: int, nnz: int, rng: np.random.Generator, *, zipf: float = 1.1,
                 sigma: float = 0.6):
    """``n`` rows of ~``nnz`` distinct terms drawn Zipf-like over ``dim``, log-normal weights."""
    from lsr.sparse import SparseBatch

    p = 1.0 / np.arange(1, dim + 1) ** zipf
    p /= p.sum()
    perm = rng.permutation(dim)            # popular terms spread over the vocabulary
    lengths = np.maximum(1, rng.poisson(nnz, n))
    indptr, indices = [0], []
    for length in lengths:
        terms = np.unique(perm[rng.choice(dim, size=int(length), p=p)])
        indices.append(np.sort(terms))
        indptr.append(indptr[-1] + terms.size)
    indices = np.concatenate(indices).astype(np.int32)
    values = rng.lognormal(mean=-0.5, sigma=sigma, size=indices.size).astype(np.float32)
    return SparseBatch(np.asarray(indptr, dtype=np.int64), indices, values, dim)


def _sample_texts():
    import json

    folder = REPO / "lsr" / "data" / "sample"
    docs = [json.loads(line) for line in open(folder / "corpus.jsonl", encoding="utf-8")]
    queries = [json.loads(line) for line in open(folder / "queries.jsonl", encoding="utf-8")]
    doc_texts = [f"{d.get('title', '')} {d['text']}".strip() for d in docs]
    return doc_texts, [q["text"] for q in queries]


def load_collection(name: str, *, cache: str | None = None, n_queries: int | None = None,
                    with_texts: bool = False) -> Collection:
    """Load collection ``name``; ``n_queries`` keeps the first queries only."""
    if name.startswith("rand-") and name != "rand-text":
        n = parse_rand(name)
        rng = np.random.default_rng(20241101 + n)
        dim = 5000
        docs = random_batch(n, dim, 60, rng)
        queries = random_batch(n_queries or 200, dim, 15, rng, sigma=0.8)
        coll = Collection(name, docs, queries, vocab=[f"t{i}" for i in range(dim)],
                          info={"source": "seeded random (Zipf terms, log-normal weights)"})
    elif name == "rand-text":
        doc_texts, query_texts = _sample_texts()
        from lsr.encoders.bm25 import BM25Encoder

        enc = BM25Encoder().fit(doc_texts)
        coll = Collection(name, enc.encode_documents(doc_texts, show_progress=False),
                          enc.encode_queries(query_texts), vocab=list(enc.vocab),
                          doc_texts=doc_texts, query_texts=query_texts,
                          info={"source": "lsr/data/sample (BM25 vectors)"})
    elif name in ("real", "real-if"):
        _scripts_on_path()
        try:
            from benchdata import load_real
        except ImportError as exc:
            raise Skip(f"scripts/benchdata.py is not available: {exc}") from exc
        real = load_real(cache)
        queries = real["queries"] if name == "real" else real["if_queries"]
        coll = Collection(name, real["docs"], queries, vocab=[str(v) for v in real["vocab"]],
                          info={"source": "scripts/benchdata.py load_real", "idf": real["idf"],
                                "doc_ids": real["doc_ids"], "query_ids": real["query_ids"]})
        if with_texts:
            _attach_scifact_texts(coll)
    elif name in SYNTH_SIZES:
        _scripts_on_path()
        try:
            from synthetic import load_synthetic
        except ImportError as exc:
            raise Skip(f"scripts/synthetic.py is not available yet: {exc}") from exc
        data = load_synthetic(SYNTH_SIZES[name], cache)
        vocab = data.get("vocab")
        coll = Collection(name, data["docs"], data["queries"],
                          vocab=None if vocab is None else [str(v) for v in vocab],
                          info={"source": "scripts/synthetic.py load_synthetic"})
    else:
        raise ValueError(f"unknown collection {name!r}")
    if n_queries is not None and coll.n_queries > n_queries:
        coll.queries = coll.queries[:n_queries]
        if coll.query_texts is not None:
            coll.query_texts = coll.query_texts[:n_queries]
    return coll


def _attach_scifact_texts(coll: Collection) -> None:
    """Doc and query texts of SciFact in the order of the cached vectors (checked by id)."""
    from lsr.eval.beir import load_beir

    data = load_beir(shared_dir() / "beir" / "scifact", split="test")
    by_id = {d.id: d.full_text for d in data.corpus}
    coll.doc_texts = [by_id[str(i)] for i in coll.info["doc_ids"]]
    coll.query_texts = [data.queries[str(q)] for q in coll.info["query_ids"]]
