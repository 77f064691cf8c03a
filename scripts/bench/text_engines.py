"""End-to-end rows that start from query text: BM25 (bm25s and ours) and inference-free.

Each timed query is the whole path a user runs: text -> analyzer / tokenizer -> weights ->
top-10. They apply only to collections with texts (``real`` for BM25, ``real-if`` for the
inference-free row; ``rand-text`` in ``--quick`` runs for both).

- ``bm25s``: ``bm25s.BM25(k1=1.2, b=0.75, backend="numba")`` over ``bm25s.tokenization.
  Tokenizer`` (English stopwords, PyStemmer English stemmer); per query ``tokenize([text])`` +
  ``retrieve(ids, k=10, n_threads=1)``. Exact by construction (it sums precomputed per-term
  document scores), over its own analyzer, so no accuracy is reported.
- ``lsr-bm25``: ``lsr.load_encoder("bm25").fit(texts)``, ``SparseIndex.build``; per query
  ``encoder.encode_queries([text])`` + ``index.search``. Accuracy against float brute force
  over our own BM25 vectors.
- ``lsr-if-text``: per query ``TokenWeightQueryEncoder.encode_queries([text])`` (splade-tiny's
  tokenizer, IDF over the corpus) + ``index.search`` on the splade-tiny document index.
"""

from __future__ import annotations

import numpy as np

from bench.common import Collection, Engine, K, Skip, time_queries
from bench.data import shared_dir
from bench.lsr_engine import LsrEngine, _quantized_docs

BM25_COLLECTIONS = ("real", "rand-text")
IF_COLLECTIONS = ("real-if", "rand-text")


class Bm25sEngine(Engine):
    name = "bm25s"
    exact = True
    batch_threads = (1, 2)

    def __init__(self):
        try:
            import bm25s  # noqa: F401
            import Stemmer  # noqa: F401
        except ImportError as exc:
            raise Skip(f"bm25s[core] is not installed ({exc}); pip install -e '.[bench]'") from exc

    def applies_to(self, coll_name: str) -> str | None:
        return None if coll_name in BM25_COLLECTIONS else "BM25 rows run on SciFact text (real)"

    def preload(self) -> None:
        """Compile bm25s's Numba functions on a toy corpus (outside the memory figure)."""
        import bm25s

        tok = bm25s.tokenization.Tokenizer(stopwords="en")
        retriever = bm25s.BM25(backend="numba")
        retriever.index(tok.tokenize(["a cat", "a dog", "two cats"], return_as="tuple",
                                     show_progress=False), show_progress=False)
        ids = tok.tokenize(["cat"], update_vocab=False, return_as="ids", show_progress=False)
        retriever.retrieve(ids, k=2, show_progress=False, n_threads=1)

    def build(self, coll: Collection, workdir: str) -> None:
        import bm25s
        import Stemmer

        self.tokenizer = bm25s.tokenization.Tokenizer(
            stopwords="en", stemmer=Stemmer.Stemmer("english").stemWord)
        corpus = self.tokenizer.tokenize(coll.doc_texts, update_vocab=True, return_as="tuple",
                                         show_progress=False)
        self.retriever = bm25s.BM25(k1=1.2, b=0.75, backend="numba")
        self.retriever.index(corpus, show_progress=False)
        self._n_postings = int(len(self.retriever.scores["data"]))

    def prepare(self, coll: Collection) -> list:
        return list(coll.query_texts)

    def _run(self, texts: list[str], threads: int):
        ids = self.tokenizer.tokenize(texts, update_vocab=False, return_as="ids",
                                      show_progress=False)
        docs, _ = self.retriever.retrieve(ids, k=K, show_progress=False, n_threads=threads)
        return docs

    def search_one(self, text):
        return self._run([text], 1)[0]

    def search_batch(self, prepared, threads: int):
        return self._run(prepared, threads)

    def extra_timings(self, prepared: list) -> dict:
        def encode(text):
            return self.tokenizer.tokenize([text], update_vocab=False, return_as="ids",
                                           show_progress=False)
        _, lat = time_queries(encode, prepared, 30.0)
        return {"encode_us": float(lat.mean())}

    def index_bytes(self) -> int:
        s = self.retriever.scores
        return int(sum(np.asarray(s[key]).nbytes for key in ("data", "indices", "indptr")))

    def postings(self) -> int:
        return self._n_postings

    def reference(self, coll: Collection):
        return None     # exact by construction over its own analyzer: no accuracy row

    def touched_counts(self, coll: Collection) -> np.ndarray:
        lengths = np.diff(np.asarray(self.retriever.scores["indptr"]))
        ids = self.tokenizer.tokenize(coll.query_texts, update_vocab=False, return_as="ids",
                                      show_progress=False)
        return np.array([int(lengths[np.unique(np.asarray(q, dtype=np.int64))].sum())
                         if len(q) else 0 for q in ids], dtype=np.int64)

    def build_info(self) -> dict:
        return {"k1": 1.2, "b": 0.75, "backend": "numba", "stopwords": "en",
                "stemmer": "PyStemmer english"}


class LsrTextEngine(LsrEngine):
    """Our index behind a text query encoder (BM25 or inference-free)."""

    def __init__(self, name: str):
        try:
            super().__init__("lsr-auto")  # what a user gets: the index's default algorithm
        except Skip:
            super().__init__("lsr-exact")
        self.name = name
        self.kind = "bm25" if name == "lsr-bm25" else "if"

    def applies_to(self, coll_name: str) -> str | None:
        allowed = BM25_COLLECTIONS if self.kind == "bm25" else IF_COLLECTIONS
        if coll_name in allowed:
            return None
        return ("BM25 rows run on SciFact text (real)" if self.kind == "bm25"
                else "inference-free text rows run on real-if")

    def build(self, coll: Collection, workdir: str) -> None:
        if self.kind == "bm25":
            import lsr

            self.encoder = lsr.load_encoder("bm25").fit(coll.doc_texts, show_progress=False)
            self._docs = self.encoder.encode_documents(coll.doc_texts, show_progress=False)
        else:
            from tokenizers import Tokenizer

            from lsr.encoders.inference_free import TokenWeightQueryEncoder, compute_idf

            tokenizer = Tokenizer.from_file(
                str(shared_dir() / "models" / "splade-tiny" / "tokenizer.json"))
            if coll.name == "rand-text":      # smoke test: documents are IDF-weighted tokens
                idf = compute_idf(tokenizer, coll.doc_texts, show_progress=False)
                self.encoder = TokenWeightQueryEncoder(tokenizer, idf)
                self._docs = self.encoder.encode_queries(coll.doc_texts)
            else:
                self.encoder = TokenWeightQueryEncoder(tokenizer, coll.info["idf"])
                self._docs = coll.docs
        inner = Collection(coll.name, self._docs, coll.queries)
        super().build(inner, workdir)

    def prepare(self, coll: Collection) -> list:
        return list(coll.query_texts)

    def search_one(self, text):
        return self.index.search(self.encoder.encode_queries([text]), K, threads=1,
                                 **self._kwargs)

    def search_batch(self, prepared, threads: int):
        return self.index.search(self.encoder.encode_queries(prepared), K, threads=threads,
                                 **self._kwargs)

    def extra_timings(self, prepared: list) -> dict:
        _, lat = time_queries(lambda text: self.encoder.encode_queries([text]), prepared, 30.0)
        return {"encode_us": float(lat.mean())}

    def reference(self, coll: Collection):
        """(queries, docs) whose float brute force defines "exact" for this row."""
        return (self.encoder.encode_queries(coll.query_texts).to_scipy(),
                self._docs.to_scipy())

    def own_weights(self, coll: Collection):
        queries, _ = self.reference(coll)
        return _quantized_docs(self.index), queries


def make(name: str, spec: dict) -> Engine:
    return Bm25sEngine() if name == "bm25s" else LsrTextEngine(name)
