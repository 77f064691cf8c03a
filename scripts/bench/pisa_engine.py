"""PISA through ``pyterrier-pisa``: exact MaxScore and block-max WAND over compressed lists.

PISA scores integers: with the ``quantized`` scorer a document's score is
``sum_t query_weight_t * impact_{t,d}``, where impacts are the integer "frequencies" stored in
the index and the query weight of a term is the number of times it occurs in the query (the
Python binding builds the query by repeating each term ``int(w)`` times). So:

- documents are quantized exactly like our index (``impact = round(w / scale)``,
  ``scale = max weight / 255``, zero impacts dropped), so both engines face the same integers;
- query weights are quantized per query to 1..255 (``round(w / (max_w / 255))``; a term that
  rounds to 0 is dropped) — a per-query scale does not change the ranking;
- accuracy is reported against float brute force and against brute force over these same
  integers (which must be 1.0, or PISA is not computing the dot product).

Index: we write PISA's binary collection (``inv.docs`` / ``inv.freqs`` / ``inv.sizes``), the
lexicons (``fwd.terms`` sorted, ``fwd.documents``) and ``pt_meta.json`` — the files
``PisaIndex.toks_indexer`` (the pretokenised path, ``scale=1``) writes — straight from the CSR
arrays with NumPy, because that indexer loops over Python dicts (minutes at 1M documents).
Terms are the decimal strings of their ids (PISA lower-cases terms; digits are safe).
``prepare_index`` then builds the block-max metadata (blocks of 64) and the ``block_simdbp``
compressed index; both are part of the build time. No stemming, no stopwords, no JVM:
``pyterrier`` is imported but Java is never started.

Searching calls ``_pisathon.retrieve`` directly (what ``PisaRetrieve.transform`` does, minus
the pandas DataFrames), single-threaded per query; its ``threads`` argument runs a TBB loop
over the queries for the batch figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from bench.common import Collection, Engine, K, Skip, doc_chunks

ENCODING = "block_simdbp"
BLOCK = 64


def doc_scale(docs, bits: int = 8) -> float:
    vmax = float(docs.values.max()) if docs.values.size else 0.0
    return vmax / ((1 << bits) - 1) if vmax > 0 else 1.0


def quantize(values: np.ndarray, scale: float, bits: int = 8) -> np.ndarray:
    top = (1 << bits) - 1
    return np.clip(np.rint(np.asarray(values, dtype=np.float64) / scale), 0, top).astype(np.uint32)


def quantized_matrix(docs, scale: float) -> sp.csr_matrix:
    """The integer impacts PISA stores, as float64 CSR (n_docs, dim), zeros dropped."""
    # Copies: eliminate_zeros works in place and must not touch the collection's arrays.
    m = sp.csr_matrix((quantize(docs.values, scale).astype(np.float64),
                       np.array(docs.indices), np.array(docs.indptr)), shape=(len(docs), docs.dim))
    m.eliminate_zeros()
    return m


def quantize_query(weights: np.ndarray, levels: int = 255) -> np.ndarray:
    wmax = float(weights.max()) if weights.size else 0.0
    if wmax <= 0:
        return np.zeros(weights.size, dtype=np.int64)
    return np.rint(weights.astype(np.float64) / (wmax / levels)).astype(np.int64)


def write_collection(path: Path, docs, scale: float, max_block: int = 1 << 25) -> int:
    """PISA binary collection + lexicons of the quantized ``docs``; returns the postings count.

    Memory stays bounded at any collection size: posting lists are written in blocks of
    lexicon-ordered terms holding at most ``max_block`` postings, each gathered by one pass over
    the documents in chunks (so documents come out increasing within every list).
    """
    from pyterrier_pisa import _pisathon

    path.mkdir(parents=True, exist_ok=True)
    n_docs, dim = len(docs), docs.dim
    chunks = list(doc_chunks(docs.indptr, max_block))
    df = np.zeros(dim, dtype=np.int64)
    lengths = np.zeros(n_docs, dtype=np.int64)
    for lo, hi in chunks:
        a, b = docs.indptr[lo], docs.indptr[hi]
        imp = quantize(docs.values[a:b], scale)
        keep = imp > 0
        df += np.bincount(np.asarray(docs.indices[a:b])[keep], minlength=dim)
        rows = np.repeat(np.arange(hi - lo), np.diff(docs.indptr[lo:hi + 1]))
        lengths[lo:hi] = np.bincount(rows, weights=imp, minlength=hi - lo).astype(np.int64)
    terms = np.flatnonzero(df)
    names = np.array([str(t) for t in terms])
    order = np.argsort(names, kind="stable")            # PISA's lexicon is sorted as strings
    terms, names = terms[order], names[order]
    rank = np.full(dim, -1, dtype=np.int64)
    rank[terms] = np.arange(terms.size)
    bounds = [0]                                         # blocks of lexicon positions
    acc = 0
    for i, t in enumerate(terms):
        if acc and acc + df[t] > max_block:
            bounds.append(i)
            acc = 0
        acc += df[t]
    bounds.append(terms.size)
    u32 = np.uint32
    with open(path / "inv.docs", "wb") as f_docs, open(path / "inv.freqs", "wb") as f_freqs:
        f_docs.write(np.array([1, n_docs], dtype=u32).tobytes())
        for b0, b1 in zip(bounds[:-1], bounds[1:]):
            parts = []
            for lo, hi in chunks:
                a, b = docs.indptr[lo], docs.indptr[hi]
                t = np.asarray(docs.indices[a:b])
                r = rank[t]
                imp = quantize(docs.values[a:b], scale)
                sel = (r >= b0) & (r < b1) & (imp > 0)
                rows = np.repeat(np.arange(lo, hi, dtype=np.int64),
                                 np.diff(docs.indptr[lo:hi + 1]))
                parts.append((r[sel], rows[sel], imp[sel]))
            r = np.concatenate([p[0] for p in parts])
            d = np.concatenate([p[1] for p in parts]).astype(u32)
            f = np.concatenate([p[2] for p in parts]).astype(u32)
            del parts
            order = np.argsort(r, kind="stable")         # stable: documents stay increasing
            r, d, f = r[order], d[order], f[order]
            starts = np.searchsorted(r, np.arange(b0, b1 + 1))
            for j in range(b1 - b0):
                lo, hi = starts[j], starts[j + 1]
                head = np.array([hi - lo], dtype=u32).tobytes()
                f_docs.write(head + d[lo:hi].tobytes())
                f_freqs.write(head + f[lo:hi].tobytes())
    with open(path / "inv.sizes", "wb") as f:
        f.write(np.concatenate([[n_docs], lengths]).astype(u32).tobytes())
    with open(path / "fwd.terms", "w") as f:
        f.writelines(f"{n}\n" for n in names)
    with open(path / "fwd.documents", "w") as f:
        f.writelines(f"{i}\n" for i in range(n_docs))
    _pisathon.build_binlex(str(path / "fwd.documents"), str(path / "fwd.doclex"))
    _pisathon.build_binlex(str(path / "fwd.terms"), str(path / "fwd.termlex"))
    (path / "pt_meta.json").write_text(json.dumps({
        "type": "sparse_index", "format": "pisa", "package_hint": "pyterrier-pisa",
        "stemmer": "none"}))
    return int(df.sum())


class PisaEngine(Engine):
    exact = True
    batch_threads = (1, 2)

    def __init__(self, name: str):
        try:
            from pyterrier_pisa import _pisathon
        except ImportError as exc:
            raise Skip(f"pyterrier-pisa is not installed ({exc}); install the bench extra") from exc
        self._pisathon = _pisathon
        self.name = name
        self.algorithm = {"pisa-maxscore": "maxscore", "pisa-bmw": "block_max_wand",
                          "pisa-bmm": "block_max_maxscore", "pisa-wand": "wand"}[name]
        self.ctxt = None
        self._postings = 0
        self._path = None

    def build(self, coll: Collection, workdir: str) -> None:
        self.scale = doc_scale(coll.docs)
        self._path = Path(workdir) / "pisa-index"
        self._postings = write_collection(self._path, coll.docs, self.scale)
        self.ctxt = self._pisathon.RetrievalContext()
        # quantize=0: the stored integers are scored as they are; "" = no stemmer, no stopwords.
        self._pisathon.prepare_index(self.ctxt, str(self._path), ENCODING, "quantized", "",
                                     block_size=BLOCK, quantize=0, stop_fname="")

    def prepare(self, coll: Collection) -> list:
        out = []
        for i in range(coll.n_queries):
            terms, weights = coll.queries.row(i)
            qw = quantize_query(weights)
            keep = qw > 0
            out.append([(0, {str(t): float(w) for t, w in zip(terms[keep], qw[keep])})])
        return out

    def _retrieve(self, queries: list, threads: int):
        n = len(queries) * K
        qidx = np.empty(n, dtype=np.int32)
        docnos = np.empty(n, dtype=object)
        ranks = np.empty(n, dtype=np.int32)
        scores = np.empty(n, dtype=np.float32)
        size = self._pisathon.retrieve(
            self.ctxt, self.algorithm, queries, k=K, threads=threads, query_weighted=1,
            pretokenised=True, result_qidxs=qidx, result_docnos=docnos, result_ranks=ranks,
            result_scores=scores)
        return qidx[:size], docnos[:size]

    def search_one(self, q):
        return self._retrieve(q, 1)[1]

    def decode(self, raw) -> np.ndarray:
        return np.array([int(d) for d in raw], dtype=np.int64)

    def search_batch(self, prepared, threads: int):
        queries = [(i, q[0][1]) for i, q in enumerate(prepared)]
        return self._retrieve(queries, threads)

    def decode_batch(self, raw) -> list[np.ndarray]:
        qidx, docnos = raw
        out: list[list[int]] = [[] for _ in range(int(qidx.max()) + 1 if qidx.size else 0)]
        for q, d in zip(qidx, docnos):
            out[q].append(int(d))
        return [np.array(r, dtype=np.int64) for r in out]

    def index_bytes(self) -> int:
        files = list(self._path.glob(f"quantized.q0.bmw.{BLOCK}*"))
        return sum(f.stat().st_size for f in files)

    def postings(self) -> int:
        return self._postings

    def own_weights(self, coll: Collection):
        rows = []
        for i in range(coll.n_queries):
            terms, weights = coll.queries.row(i)
            rows.append((terms, quantize_query(weights).astype(np.float64)))
        indptr = np.cumsum([0] + [t.size for t, _ in rows])
        q = sp.csr_matrix((np.concatenate([w for _, w in rows]) if rows else [],
                           np.concatenate([t for t, _ in rows]) if rows else [], indptr),
                          shape=(coll.n_queries, coll.docs.dim))
        q.eliminate_zeros()
        return quantized_matrix(coll.docs, self.scale), q

    def build_info(self) -> dict:
        return {"encoding": ENCODING, "block": BLOCK, "scorer": "quantized",
                "doc_scale": self.scale, "query_levels": 255,
                "index_files": "compressed index + block-max (wand) data"}


def make(name: str, spec: dict) -> Engine:
    return PisaEngine(name)
