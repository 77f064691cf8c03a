"""``evaluate_encoder``: index a BEIR dataset (or reuse its index), search, score, report.

This is what ``lsr eval`` runs; the returned ``EvalReport`` carries every figure the CLI
prints, and the same figures are written to ``metrics.json`` beside the run file.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lsr.errors import IndexFormatError, InputError
from lsr.results import check_k

logger = logging.getLogger(__name__)

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")


@dataclass
class EvalReport:
    """Figures of one evaluation run (all times in seconds, sizes in bytes)."""

    dataset: str
    split: str
    encoder: dict
    metrics: dict[str, float]
    num_docs: int
    num_queries: int
    index_bytes: int
    avg_doc_nnz: float
    avg_query_nnz: float
    encode_docs_per_second: float | None
    encode_queries_per_second: float
    search_ms_mean: float
    search_ms_p50: float
    search_ms_p99: float
    batch_search_seconds: float
    index_reused: bool
    search_options: dict
    run_path: str
    metrics_path: str
    per_query: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("per_query")
        return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "encoder"


def _reusable(index_dir: Path, encoder_config: dict, num_docs: int):
    from lsr.index.build import load_any_index

    if not (index_dir / "manifest.json").is_file():
        return None
    try:
        index = load_any_index(index_dir)
    except IndexFormatError as exc:
        logger.warning("not reusing %s: %s", index_dir, exc)
        return None
    if index.encoder_config != encoder_config or len(index) != num_docs:
        logger.info("not reusing %s: built with another encoder or corpus", index_dir)
        return None
    return index


def evaluate_encoder(
    dataset_dir: str | Path,
    encoder: str,
    *,
    split: str = "test",
    out_dir: str | Path | None = None,
    k: int = 1000,
    encoder_options: dict | None = None,
    batch_size: int | None = None,
    bits: int = 8,
    rebuild: bool = False,
    threads: int | None = None,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    show_progress: bool | None = None,
    approx=None,
    search_options: dict | None = None,
) -> EvalReport:
    """Evaluate ``encoder`` (a name, folder or hub id, as ``lsr.load_encoder`` takes) on a
    BEIR dataset folder; write ``run.trec`` and ``metrics.json`` into ``out_dir``.

    ``approx`` adds approximate-search structures when building; ``search_options`` go to
    ``index.search`` (``mode``, ``algorithm``, ``query_cut``, ``heap_factor``)."""
    from lsr.encoders import load_encoder
    from lsr.eval.beir import load_beir
    from lsr.eval.metrics import evaluate
    from lsr.eval.run_file import write_trec_run
    from lsr.index.build import index_corpus

    k = check_k(k)
    dataset_dir = Path(dataset_dir)
    data = load_beir(dataset_dir, split=split)
    if not data.queries:
        raise InputError(f"{dataset_dir} has no queries with judgements in split {split!r}")
    enc = load_encoder(encoder, **(encoder_options or {}))
    out = Path(out_dir) if out_dir is not None else (
        Path("runs") / f"{_slug(dataset_dir.name)}-{_slug(encoder)}")
    out.mkdir(parents=True, exist_ok=True)
    index_dir = out / "index"

    docs_per_second = None
    search_options = dict(search_options or {})
    index = None if rebuild else _reusable(index_dir, enc.config(), len(data.corpus))
    if index is not None and approx and not getattr(index, "has_approx", False):
        index = None  # approximate structures asked for but absent: rebuild
    reused = index is not None
    if index is None:
        index, build = index_corpus(lambda: iter(data.corpus), index_dir, enc,
                                    batch_size=batch_size, bits=bits, overwrite=True,
                                    show_progress=show_progress, approx=approx)
        docs_per_second = build.docs_per_second
        query_encoder = enc
    else:
        # An encoder that still needs corpus statistics (BM25) takes them from the index.
        query_encoder = index.query_encoder() if getattr(enc, "needs_fit", False) else enc
    logger.info("%s index at %s", "reusing" if reused else "built", index_dir)
    if search_options and not hasattr(index, "has_approx"):
        raise InputError(f"search options {search_options} apply to sparse indexes only")

    qids = list(data.queries)
    texts = [data.queries[q] for q in qids]
    t0 = time.perf_counter()
    queries = query_encoder.encode_queries(texts, show_progress=show_progress)
    encode_q = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = index.search(queries, k=k, threads=threads, **search_options)
    batch_seconds = time.perf_counter() - t0
    latencies = []
    for i in range(len(qids)):
        one = queries[i:i + 1]
        t0 = time.perf_counter()
        index.search(one, k=k, threads=1, **search_options)
        latencies.append((time.perf_counter() - t0) * 1000)
    if isinstance(queries, np.ndarray):
        avg_query_nnz = float(queries.shape[1])
        avg_doc_nnz = float(index.dim)
    else:
        avg_query_nnz = float(np.mean(queries.nnz_per_row())) if len(queries) else 0.0
        avg_doc_nnz = index.stats()["avg_doc_nnz"]

    run = result.to_run(qids)
    run_path = out / "run.trec"
    write_trec_run(run_path, run, tag=_slug(encoder))
    scores = evaluate(data.qrels, run, metrics=metrics)
    report = EvalReport(
        dataset=dataset_dir.name, split=split, encoder=index.encoder_config or {},
        metrics=scores["mean"], num_docs=len(index), num_queries=len(qids),
        index_bytes=index.nbytes, avg_doc_nnz=avg_doc_nnz, avg_query_nnz=avg_query_nnz,
        encode_docs_per_second=docs_per_second,
        encode_queries_per_second=len(qids) / encode_q if encode_q > 0 else float("inf"),
        search_ms_mean=float(np.mean(latencies)), search_ms_p50=float(np.median(latencies)),
        search_ms_p99=float(np.percentile(latencies, 99)), batch_search_seconds=batch_seconds,
        index_reused=reused, search_options=search_options, run_path=str(run_path),
        metrics_path=str(out / "metrics.json"),
        per_query=scores["per_query"],
    )
    (out / "metrics.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report

