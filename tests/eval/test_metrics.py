"""Metrics against values computed by hand from their definitions (not from pytrec_eval)."""

from __future__ import annotations

import math

import pytest

from lsr.errors import InputError
from lsr.eval.metrics import evaluate, parse_metric

QRELS = {
    "q1": {"d1": 2, "d2": 1, "d3": 0, "d4": 1},
    "q2": {"d5": 1},
    "q3": {"d9": 1},  # never retrieved: counts as 0 by default
}
RUN = {
    "q1": {"d3": 0.9, "d1": 0.8, "x1": 0.7, "d2": 0.6, "x2": 0.5},
    "q2": {"x3": 3.0, "x4": 2.0, "d5": 1.0},
    "q9": {"d1": 1.0},  # no judgements: ignored
}


def dcg(gains):
    """trec_eval's DCG: linear gains, discount log2(rank + 1)."""
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at(qrels, ranking, k):
    gains = [qrels.get(d, 0) for d in ranking[:k]]
    ideal = sorted(qrels.values(), reverse=True)[:k]
    return dcg(gains) / dcg(ideal)


def ranking(hits):
    return sorted(hits, key=lambda d: -hits[d])


def test_ndcg_recall_mrr_by_hand():
    result = evaluate(QRELS, RUN, ("ndcg@10", "ndcg@3", "recall@3", "recall@100", "mrr@10",
                                   "mrr@1", "precision@2", "success@1"))
    per = result["per_query"]
    assert set(per) == {"q1", "q2", "q3"} and result["num_queries"] == 3

    q1 = ranking(RUN["q1"])
    # DCG@10 = 0/1 + 2/log2(3) + 0/2 + 1/log2(5); ideal = 2/1 + 1/log2(3) + 1/2
    assert per["q1"]["ndcg@10"] == pytest.approx(
        (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3) + 0.5))
    assert per["q1"]["ndcg@10"] == pytest.approx(ndcg_at(QRELS["q1"], q1, 10))
    assert per["q1"]["ndcg@3"] == pytest.approx(ndcg_at(QRELS["q1"], q1, 3))
    assert per["q1"]["recall@3"] == pytest.approx(1 / 3)  # d1 of {d1, d2, d4}
    assert per["q1"]["recall@100"] == pytest.approx(2 / 3)
    assert per["q1"]["mrr@10"] == pytest.approx(1 / 2)  # d3 is judged but not relevant
    assert per["q1"]["mrr@1"] == 0.0
    assert per["q1"]["precision@2"] == pytest.approx(1 / 2)
    assert per["q1"]["success@1"] == 0.0

    assert per["q2"]["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert per["q2"]["mrr@10"] == pytest.approx(1 / 3)
    assert per["q2"]["recall@3"] == 1.0
    assert all(v == 0.0 for v in per["q3"].values())

    mean = result["mean"]
    assert list(mean) == ["ndcg@10", "ndcg@3", "recall@3", "recall@100", "mrr@10", "mrr@1",
                          "precision@2", "success@1"]
    assert mean["ndcg@10"] == pytest.approx((per["q1"]["ndcg@10"] + 0.5 + 0.0) / 3)
    assert mean["mrr@10"] == pytest.approx((1 / 2 + 1 / 3) / 3)


def test_missing_queries_ignore_matches_beir():
    result = evaluate(QRELS, RUN, ("ndcg@10",), missing="ignore")
    assert set(result["per_query"]) == {"q1", "q2"}
    assert result["mean"]["ndcg@10"] == pytest.approx(
        (ndcg_at(QRELS["q1"], ranking(RUN["q1"]), 10) + 0.5) / 2)
    # A judged query present with an empty ranking scores 0 under both conventions.
    for missing in ("zero", "ignore"):
        empty = evaluate({"q": {"a": 1}}, {"q": {}}, ("ndcg@10", "mrr@10"), missing=missing)
        assert empty["mean"] == {"ndcg@10": 0.0, "mrr@10": 0.0}


def test_mrr_cutoff_breaks_ties_like_trec_eval():
    # trec_eval orders equal scores by doc id descending: c, b, a -> 'a' is at rank 3.
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 1.0, "b": 1.0, "c": 1.0}}
    result = evaluate(qrels, run, ("mrr", "mrr@3", "mrr@2"))["mean"]
    assert result == {"mrr": pytest.approx(1 / 3), "mrr@3": pytest.approx(1 / 3), "mrr@2": 0.0}


def test_ignore_identical_ids():
    qrels = {"q1": {"q1": 1, "d1": 1}}
    run = {"q1": {"q1": 2.0, "d1": 1.0}}
    assert evaluate(qrels, run, ("mrr@10",))["mean"]["mrr@10"] == 1.0
    dropped = evaluate(qrels, run, ("mrr@10", "recall@10"), ignore_identical_ids=True)["mean"]
    assert dropped == {"mrr@10": 1.0, "recall@10": pytest.approx(0.5)}


def test_map_and_integer_ids():
    qrels = {1: {10: 1, 20: 1}}
    run = {1: {10: 0.9, 30: 0.8, 20: 0.7}}
    result = evaluate(qrels, run, ("map", "map@2", "ndcg"))["per_query"]["1"]
    assert result["map"] == pytest.approx((1 + 2 / 3) / 2)
    assert result["map@2"] == pytest.approx(1 / 2)
    assert result["ndcg"] == pytest.approx(ndcg_at({"a": 1, "b": 1}, ["a", "x", "b"], 3))


def test_metric_names():
    assert parse_metric("nDCG@10") == ("ndcg", 10)
    assert parse_metric("P@5") == ("precision", 5)
    assert parse_metric("mrr") == ("mrr", None)
    with pytest.raises(InputError, match="unknown metric 'bleu@4'"):
        parse_metric("bleu@4")
    with pytest.raises(InputError, match="needs a cutoff"):
        parse_metric("recall")
    with pytest.raises(InputError, match="must be >= 1"):
        parse_metric("ndcg@0")


def test_bad_inputs():
    with pytest.raises(InputError, match="no judgements"):
        evaluate({}, RUN)
    with pytest.raises(InputError, match="no query of the run has judgements"):
        evaluate(QRELS, {"zz": {"d1": 1.0}}, missing="ignore")
    with pytest.raises(InputError, match="missing must be"):
        evaluate(QRELS, RUN, missing="skip")
