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

from bench.common import Collection, Engine, K, Skip

ENCODING = "block_simdbp"
BLOCK = 64


def quantize_docs(docs, bits: int = 8):
    """(indptr, indices, impacts uint32) with zero impacts dropped, and the scale."""
    top = (1 << bits) - 1
    vmax = float(docs.values.max()) if docs.values.size else 1.0
    scale = vmax / top if vmax > 0 else 1.0
    imp = np.clip(np.rint(docs.values.astype(np.float64) / scale), 0, top).astype(np.uint32)
    keep = imp > 0
    rows = np.repeat(np.arange(len(docs)), np.diff(docs.indptr))[keep]
    indptr = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(docs)), out=indptr[1:])
    return indptr, docs.indices[keep], imp[keep], scale


def quantize_query(weights: np.ndarray, levels: int = 255) -> np.ndarray:
    wmax = float(weights.max()) if weights.size else 0.0
    if wmax <= 0:
        return np.zeros(weights.size, dtype=np.int64)
    return np.rint(weights.astype(np.float64) / (wmax / levels)).astype(np.int64)


def write_collection(path: Path, indptr, indices, impacts, dim: int) -> int:
    """PISA binary collection + lexicons for integer impacts; returns the number of postings."""
    from pyterrier_pisa import _pisathon

    path.mkdir(parents=True, exist_ok=True)
    n_docs = indptr.size - 1
    csr = sp.csr_matrix((impacts, indices, indptr), shape=(n_docs, dim))
    csc = csr.tocsc()
    csc.sort_indices()
    df = np.diff(csc.indptr)
    terms = np.flatnonzero(df)
    names = np.array([str(t) for t in terms])
    order = np.argsort(names, kind="stable")            # PISA's lexicon is sorted as strings
    terms, names = terms[order], names[order]
    u32 = np.uint32
    with open(path / "inv.docs", "wb") as f_docs, open(path / "inv.freqs", "wb") as f_freqs:
        f_docs.write(np.array([1, n_docs], dtype=u32).tobytes())
        for t in terms:
            lo, hi = csc.indptr[t], csc.indptr[t + 1]
            head = np.array([hi - lo], dtype=u32).tobytes()
            f_docs.write(head + csc.indices[lo:hi].astype(u32).tobytes())
            f_freqs.write(head + csc.data[lo:hi].astype(u32).tobytes())
    lengths = np.add.reduceat(np.append(impacts, 0).astype(np.int64), indptr[:-1])
    lengths = np.where(np.diff(indptr) > 0, lengths, 0)
    with open(path / "inv.sizes", "wb") as f:
        f.write(np.concatenate([[n_docs], lengths]).astype(u32).tobytes())
    (path / "fwd.terms").write_text("".join(f"{n}\n" for n in names))
    (path / "fwd.documents").write_text("".join(f"{i}\n" for i in range(n_docs)))
    _pisathon.build_binlex(str(path / "fwd.documents"), str(path / "fwd.doclex"))
    _pisathon.build_binlex(str(path / "fwd.terms"), str(path / "fwd.termlex"))
    (path / "pt_meta.json").write_text(json.dumps({
        "type": "sparse_index", "format": "pisa", "package_hint": "pyterrier-pisa",
        "stemmer": "none"}))
    return int(csc.nnz)


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
        self._own = None

    def build(self, coll: Collection, workdir: str) -> None:
        indptr, indices, impacts, self.scale = quantize_docs(coll.docs)
        self._path = Path(workdir) / "pisa-index"
        self._postings = write_collection(self._path, indptr, indices, impacts, coll.docs.dim)
        self.ctxt = self._pisathon.RetrievalContext()
        # quantize=0: the stored integers are scored as they are; "" = no stemmer, no stopwords.
        self._pisathon.prepare_index(self.ctxt, str(self._path), ENCODING, "quantized", "",
                                     block_size=BLOCK, quantize=0, stop_fname="")
        self._own = sp.csr_matrix((impacts.astype(np.float64), indices, indptr),
                                  shape=(len(coll.docs), coll.docs.dim))

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
        return self._own, q

    def build_info(self) -> dict:
        return {"encoding": ENCODING, "block": BLOCK, "scorer": "quantized",
                "doc_scale": self.scale, "query_levels": 255,
                "index_files": "compressed index + block-max (wand) data"}


def make(name: str, spec: dict) -> Engine:
    return PisaEngine(name)
