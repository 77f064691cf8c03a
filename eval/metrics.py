"""Retrieval metrics with pytrec_eval (trec_eval's definitions, as BEIR reports them).

Metric names are ``NAME@K`` or plain ``NAME``:

==============  ===================================  =====================================
name            pytrec_eval measure                  meaning
==============  ===================================  =====================================
``ndcg@k``      ``ndcg_cut.k``                       nDCG with linear gains (rel, not 2^rel-1)
``ndcg``        ``ndcg``                             nDCG over the whole ranking
``recall@k``    ``recall.k``                         relevant retrieved in top k / relevant
``precision@k`` ``P.k`` (also ``p@k``)               relevant in top k / k
``map@k``       ``map_cut.k``; ``map`` uncut         average precision
``mrr@k``       ``recip_rank`` on the top-k run      1 / rank of the first relevant hit
``success@k``   ``success.k``                        1 if a relevant hit is in the top k
==============  ===================================  =====================================

A document is relevant when its judgement is >= 1 (pytrec_eval's default relevance level).
For ``mrr@k`` each query's run is cut to its k best hits first, ordered as trec_eval orders them
(score descending, ties by doc id descending), because trec_eval's ``recip_rank`` has no cutoff.

Which queries count: the queries of ``qrels``. Runs for queries without judgements are ignored.
A judged query with no hits, or absent from the run, scores 0 (``missing="zero"``, the default).
BEIR's ``EvaluateRetrieval.evaluate`` instead averages over the judged queries present in the run
(``missing="ignore"``); the two agree whenever every judged query was searched, which is how
``lsr.eval`` runs (``load_beir`` keeps exactly the judged queries).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from lsr.errors import InputError, require

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")

# our name -> (pytrec_eval measure, whether it needs a cutoff)
_MEASURES = {
    "ndcg": "ndcg_cut",
    "recall": "recall",
    "precision": "P",
    "p": "P",
    "map": "map_cut",
    "success": "success",
    "mrr": "recip_rank",
}
_UNCUT = {"ndcg": "ndcg", "map": "map", "mrr": "recip_rank"}
_NAME = re.compile(r"^([a-z_]+)(?:@(\d+))?$")


def parse_metric(name: str) -> tuple[str, int | None]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; raise ``InputError`` for unknown names."""
    match = _NAME.match(str(name).strip().lower())
    known = ", ".join(f"{m}@k" for m in ("ndcg", "recall", "precision", "map", "mrr", "success"))
    if not match or match.group(1) not in _MEASURES:
        raise InputError(f"unknown metric {name!r}; use one of {known} (or ndcg, map, mrr)")
    base, cut = match.group(1), match.group(2)
    if base == "p":
        base = "precision"
    if cut is None:
        if base not in _UNCUT:
            raise InputError(f"metric {name!r} needs a cutoff, e.g. '{base}@10'")
        return base, None
    if int(cut) < 1:
        raise InputError(f"the cutoff of {name!r} must be >= 1")
    return base, int(cut)


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    missing: Literal["zero", "ignore"] = "zero",
    ignore_identical_ids: bool = False,
) -> dict:
    """Score ``run`` (``{qid: {doc_id: score}}``) against ``qrels`` (``{qid: {doc_id: rel}}``).

    Returns ``{"mean": {metric: float}, "per_query": {qid: {metric: float}},
    "num_queries": int}``, metrics keyed by the names given. ``ignore_identical_ids`` drops
    hits whose doc id equals the query id (BEIR does so for ArguAna and Quora).
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not metrics:
        raise InputError("no metrics requested")
    if missing not in ("zero", "ignore"):
        raise InputError(f"missing must be 'zero' or 'ignore', got {missing!r}")
    parsed = {m: parse_metric(m) for m in metrics}
    judged = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    judged = {q: docs for q, docs in judged.items() if docs}
    if not judged:
        raise InputError("qrels contain no judgements")

    runs = {}
    for qid, hits in run.items():
        qid = str(qid)
        if qid not in judged:
            continue
        hits = {str(d): float(s) for d, s in hits.items()}
        if ignore_identical_ids:
            hits.pop(qid, None)
        runs[qid] = hits
    if missing == "zero":
        evaluated = list(judged)
    else:
        evaluated = [q for q in judged if q in runs]
        if not evaluated:
            raise InputError("no query of the run has judgements in qrels; check query ids")

    per_query = {q: {} for q in evaluated}
    plain = {m: p for m, p in parsed.items() if p[0] != "mrr" or p[1] is None}
    _score(judged, runs, plain, per_query)
    for metric, (_, cut) in parsed.items():
        if metric in plain:
            continue
        cut_runs = {q: dict(_trec_order(hits)[:cut]) for q, hits in runs.items()}
        _score(judged, cut_runs, {metric: ("mrr", None)}, per_query)

    per_query = {q: {m: values[m] for m in parsed} for q, values in per_query.items()}
    mean = {
        m: math.fsum(per_query[q][m] for q in evaluated) / len(evaluated) for m in parsed
    }
    return {"mean": mean, "per_query": per_query, "num_queries": len(evaluated)}


def _score(judged, runs, parsed: dict[str, tuple[str, int | None]], per_query) -> None:
    """Fill ``per_query[qid][metric]`` for ``parsed`` metrics; 0 where a query has no hits."""
    if not parsed:
        return
    pytrec_eval = require("pytrec_eval", "eval")
    cutoffs: dict[str, set[int]] = {}
    keys = {}
    for metric, (base, cut) in parsed.items():
        if cut is None:
            measure = _UNCUT[base]
            cutoffs.setdefault(measure, set())
            keys[metric] = measure
        else:
            measure = _MEASURES[base]
            cutoffs.setdefault(measure, set()).add(cut)
            keys[metric] = f"{measure}_{cut}"
    measures = {m + ("." + ",".join(map(str, sorted(c))) if c else "") for m, c in cutoffs.items()}
    nonempty = {q: hits for q, hits in runs.items() if hits}
    results = {}
    if nonempty:
        results = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(nonempty)
    for qid, values in per_query.items():
        scores = results.get(qid)
        for metric, key in keys.items():
            values[metric] = float(scores[key]) if scores is not None else 0.0


def _trec_order(hits: Mapping[str, float]) -> list[tuple[str, float]]:
    """Hits as trec_eval ranks them: score descending, ties by doc id descending."""
    return sorted(hits.items(), key=lambda h: (h[1], h[0]), reverse=True)
