"""Approximate search: structure invariants, and exactness when every knob is set to 'safe'."""

from __future__ import annotations

import numpy as np
import pytest
from index_helpers import random_batch, skewed_batch

from lsr import InputError
from lsr.index import SparseIndex
from lsr.index.approx import ApproxConfig


@pytest.fixture(scope="module")
def skewed():
    docs = skewed_batch(31, n_docs=2500, dim=300)
    queries = skewed_batch(32, n_docs=40, dim=300)
    return docs, queries, [f"d{i}" for i in range(len(docs))]


def _overlap(a, b) -> float:
    """Mean accuracy@k of rows ``a`` against the exact rows ``b`` (empty vs empty counts 1)."""
    scores = []
    for x, y in zip(a, b):
        truth = set(y[y >= 0])
        scores.append(len(set(x[x >= 0]) & truth) / len(truth) if truth else float(
            not (x >= 0).any()))
    return float(np.mean(scores))


def test_forward_index_equals_the_stored_matrix(skewed):
    docs, _, ids = skewed
    index = SparseIndex.build(docs, ids, approx=True)
    a = index._arrays
    raw = index.dequantized(raw=True).tocsr()
    raw.sort_indices()
    np.testing.assert_array_equal(a["fwd_indptr"], raw.indptr)
    np.testing.assert_array_equal(a["fwd_terms"].astype(np.int64), raw.indices)
    np.testing.assert_array_equal(a["fwd_impacts"].astype(np.float64), raw.data)


def test_blocks_keep_the_top_postings_and_summaries_bound_them(skewed):
    docs, _, ids = skewed
    config = ApproxConfig(n_postings=100, block_size=8, summary_energy=1.0, summary_terms=10**9)
    index = SparseIndex.build(docs, ids, approx=config)
    a = index._arrays
    matrix = index.dequantized(raw=True).tocsc()
    for t in range(index.dim):
        column = matrix.getcol(t)
        df = column.nnz
        blocks = range(a["ap_term_blocks"][t], a["ap_term_blocks"][t + 1])
        kept = np.concatenate([a["ap_block_docs"][a["ap_block_docs_offsets"][b]:
                                                  a["ap_block_docs_offsets"][b + 1]]
                               for b in blocks]) if len(blocks) else np.array([], np.int32)
        assert kept.size == min(df, 100)
        if df:
            impacts = column.toarray().ravel()
            # The kept documents carry the highest impacts of the list.
            assert impacts[kept].min() >= np.sort(impacts[impacts > 0])[::-1][kept.size - 1]
        for b in blocks:
            members = a["ap_block_docs"][a["ap_block_docs_offsets"][b]:
                                         a["ap_block_docs_offsets"][b + 1]]
            assert 1 <= members.size <= 8
            lo, hi = a["ap_summary_offsets"][b], a["ap_summary_offsets"][b + 1]
            summary = np.zeros(index.dim)
            summary[a["ap_summary_terms"][lo:hi]] = a["ap_summary_impacts"][lo:hi]
            block_max = matrix[members].toarray().max(axis=0)
            np.testing.assert_array_equal(summary, block_max)  # energy 1.0: exact maxima


@pytest.mark.parametrize("block_size", [1, 5, 16])
def test_safe_knobs_make_approximate_search_exact(skewed, block_size):
    docs, queries, ids = skewed
    safe = ApproxConfig(n_postings=10**9, block_size=block_size, summary_energy=1.0,
                          summary_terms=10**9)
    index = SparseIndex.build(docs, ids, approx=safe)
    exact = index.search(queries, k=10)
    approx = index.search(queries, k=10, mode="approx", query_cut=10**6, heap_factor=1.0)
    # Same scores; the same documents except among ties at the k-th score (approximate
    # search adds float32, exact search adds integers: equal scores may round apart).
    np.testing.assert_allclose(approx.scores, exact.scores, rtol=1e-4)
    for got, want, scores in zip(approx.indices, exact.indices, exact.scores):
        kth = scores[want >= 0].min() if (want >= 0).any() else 0
        sure = set(want[(want >= 0) & (scores > kth * (1 + 1e-4))])
        assert sure <= set(got)


def test_default_knobs_trade_little_accuracy(skewed):
    docs, queries, ids = skewed
    index = SparseIndex.build(docs, ids, approx=True)
    exact = index.search(queries, k=10)
    loose = index.search(queries, k=10, mode="approx", query_cut=3, heap_factor=0.5)
    tight = index.search(queries, k=10, mode="approx", query_cut=50, heap_factor=1.0)
    assert _overlap(tight.indices, exact.indices) >= _overlap(loose.indices, exact.indices)
    assert _overlap(tight.indices, exact.indices) >= 0.9
    # Returned scores are exact for the returned documents.
    dense = index.dequantized().toarray()
    q = queries.to_scipy().toarray()
    for i in range(len(queries)):
        for d, s in zip(loose.indices[i], loose.scores[i]):
            if d >= 0:
                assert s == pytest.approx(q[i] @ dense[d], rel=1e-4)


def test_approx_round_trip_threads_and_errors(tmp_path):
    docs = random_batch(500, 80, 0.1, seed=41)
    queries = random_batch(20, 80, 0.1, seed=42)
    ids = [str(i) for i in range(500)]
    plain = SparseIndex.build(docs, ids)
    with pytest.raises(InputError, match="no approximate structures"):
        plain.search(queries, k=5, mode="approx")
    index = SparseIndex.build(docs, ids, approx=True, path=tmp_path / "idx")
    assert index.manifest["approx"]["block_size"] == 16
    loaded = SparseIndex.load(tmp_path / "idx")
    assert loaded.has_approx and loaded.approx_nbytes() > 0
    one = loaded.search(queries, k=5, mode="approx", threads=1)
    two = loaded.search(queries, k=5, mode="approx", threads=2)
    np.testing.assert_array_equal(one.indices, two.indices)
    added = plain.add_approx()
    np.testing.assert_array_equal(added.search(queries, k=5, mode="approx").indices, one.indices)
    for kwargs, message in (({"mode": "approx", "query_cut": 0}, "query_cut"),
                            ({"mode": "approx", "heap_factor": 0}, "heap_factor"),
                            ({"mode": "fast"}, "mode must be")):
        with pytest.raises(InputError, match=message):
            loaded.search(queries, k=5, **kwargs)
    with pytest.raises(InputError, match="summary_energy"):
        ApproxConfig(summary_energy=0)
