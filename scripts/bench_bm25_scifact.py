"""BM25 on BEIR SciFact by brute force: quality for several settings, and analyzer speed.

Scores every test query against every document (scipy ``Q @ D.T``), keeps the top 100 and
evaluates with pytrec_eval, so the figures check the encoder alone, independent of the index.

    python scripts/bench_bm25_scifact.py [SCIFACT_DIR]

SCIFACT_DIR defaults to ``$LSR_SHARED/beir/scifact`` (``LSR_SHARED`` defaults to ``../shared``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from lsr.encoders.bm25 import BM25Encoder
from lsr.eval.beir import load_beir
from lsr.eval.metrics import evaluate

SETTINGS = [
    ("Anserini defaults", {"k1": 0.9, "b": 0.4}),
    ("Anserini defaults, Lucene norms", {"k1": 0.9, "b": 0.4, "lucene_norms": True}),
    ("k1=1.2 b=0.75", {"k1": 1.2, "b": 0.75}),
    ("k1=1.2 b=0.75, Lucene norms", {"k1": 1.2, "b": 0.75, "lucene_norms": True}),
]


def main(argv: list[str]) -> int:
    shared = Path(os.environ.get("LSR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    folder = Path(argv[0]) if argv else shared / "beir" / "scifact"
    data = load_beir(folder)
    texts = [d.full_text for d in data.corpus]
    qids = list(data.queries)
    query_texts = [data.queries[q] for q in qids]
    print(f"{'setting':34s} {'nDCG@10':>8s} {'R@100':>7s} {'fit s':>6s} {'encode s':>8s}")
    for name, options in SETTINGS:
        start = time.perf_counter()
        enc = BM25Encoder(**options).fit(texts)
        fitted = time.perf_counter()
        docs = enc.encode_documents(texts)
        encoded = time.perf_counter()
        scores = (enc.encode_queries(query_texts).to_scipy() @ docs.to_scipy().T).toarray()
        top = np.argsort(-scores, axis=1, kind="stable")[:, :100]
        run = {q: {data.corpus[j].id: float(scores[i, j]) for j in top[i] if scores[i, j] > 0}
               for i, q in enumerate(qids)}
        mean = evaluate(data.qrels, run, ("ndcg@10", "recall@100"))["mean"]
        print(f"{name:34s} {mean['ndcg@10']:8.4f} {mean['recall@100']:7.4f} "
              f"{fitted - start:6.2f} {encoded - fitted:8.2f}")
    print(f"{len(texts)} documents, {len(qids)} queries, vocabulary {enc.dim} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
