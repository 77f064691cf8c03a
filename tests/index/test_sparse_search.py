"""Exact search against the brute-force oracle on seeded random data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from index_helpers import oracle, random_batch, skewed_batch

from lsr import InputError, SparseBatch, VocabularyMismatchError
from lsr.index import SparseIndex


def assert_matches_oracle(result, expected, rel=1e-5):
    """Equal hits; scores within the query-quantization error.

    Query weights are rounded to 20-bit integers per query, so a score can be off by about
    1e-6 of the query's largest possible contribution: compare with a tolerance scaled to the
    query's top score, and allow document swaps only between scores equal within it.
    """
    for i, hits in enumerate(expected):
        got = [(int(d), float(s)) for d, s in zip(result.indices[i], result.scores[i]) if d >= 0]
        assert len(got) == len(hits), f"query {i}: {len(got)} hits, oracle {len(hits)}"
        if not hits:
            assert (result.indices[i] == -1).all()
            continue
        tol = rel * max(abs(s) for _, s in hits) + 1e-7
        got_scores = np.array([s for _, s in got])
        exp_scores = np.array([s for _, s in hits])
        np.testing.assert_allclose(got_scores, exp_scores, rtol=0, atol=tol)
        for (gd, gs), (ed, es) in zip(got, hits):
            if gd != ed:
                assert abs(gs - es) <= 2 * tol, (i, gd, ed)
        assert (result.indices[i][len(got):] == -1).all()
        assert (result.scores[i][len(got):] == 0).all()


@pytest.mark.parametrize("k", [1, 10, 57])
@pytest.mark.parametrize("bits", [8, 16])
def test_exact_search_matches_oracle(collection, k, bits):
    docs, queries, ids = collection
    index = SparseIndex.build(docs, ids, bits=bits)
    result = index.search(queries, k=k)
    assert result.indices.shape == (len(queries), k)
    assert_matches_oracle(result, oracle(queries, index.dequantized(), k))


def test_batched_equals_single_and_threads_agree(collection):
    docs, queries, ids = collection
    index = SparseIndex.build(docs, ids)
    batched = index.search(queries, k=10, threads=2)
    one_thread = index.search(queries, k=10, threads=1)
    np.testing.assert_array_equal(batched.indices, one_thread.indices)
    for i in range(len(queries)):
        single = index.search(queries[i:i + 1], k=10)
        np.testing.assert_array_equal(single.indices[0], batched.indices[i])
        np.testing.assert_array_equal(single.scores[0], batched.scores[i])


def test_integer_ties_break_by_lower_doc_number():
    docs = random_batch(400, 50, 0.1, seed=5, integer=True)
    queries = random_batch(30, 50, 0.1, seed=6, integer=True)
    index = SparseIndex.build(docs, [str(i) for i in range(400)], bits=16)
    result = index.search(queries, k=25)
    # Integer impacts keep integer ties exact (float32 dequantized weights would not).
    expected = oracle(queries, index.dequantized(raw=True), 25)
    for i, hits in enumerate(expected):
        got = [int(d) for d in result.indices[i] if d >= 0]
        assert got == [d for d, _ in hits]  # exact, ties included


def test_k_larger_than_corpus_pads_with_minus_one():
    docs = SparseBatch.from_dense(np.array([[1.0, 0, 2], [0, 3.0, 0], [0, 0, 0]]))
    index = SparseIndex.build(docs, ["a", "b", "c"])
    result = index.search(SparseBatch.from_dense(np.array([[1.0, 1.0, 1.0]])), k=10)
    assert result.indices.shape == (1, 10)
    # a and b both score 3 (exactly representable impacts): the tie goes to the lower number;
    # "c" is empty and never returned.
    assert result.ids == [["a", "b"]]
    np.testing.assert_allclose(result.scores[0, :2], [3.0, 3.0], rtol=1e-6)
    assert (result.indices[0, 2:] == -1).all()


def test_empty_query_and_unknown_terms_return_no_hits(collection):
    docs, _, ids = collection
    index = SparseIndex.build(docs, ids)
    # Column 299 may have postings; use a term no document has by zeroing it.
    matrix = docs.to_scipy().tolil()
    matrix[:, 7] = 0
    index = SparseIndex.build(SparseBatch.from_scipy(matrix.tocsr()), ids)
    empty = SparseBatch(np.array([0, 0]), np.array([], np.int32), np.array([], np.float32), 300)
    unknown = SparseBatch.from_rows([([7], [2.0])], dim=300)
    for queries in (empty, unknown):
        result = index.search(queries, k=5)
        assert (result.indices == -1).all() and result.ids == [[]]


def test_quantization_error_is_bounded(collection):
    docs, queries, ids = collection
    index = SparseIndex.build(docs, ids, bits=8)
    exact = (queries.to_scipy() @ docs.to_scipy().T).toarray()
    approx = (queries.to_scipy() @ index.dequantized().T).toarray()
    qabs = np.abs(queries.to_scipy())
    overlap = (qabs @ (docs.to_scipy() != 0).astype(np.float32).T).toarray()
    bound = index.scale / 2 * overlap + 1e-5
    assert (np.abs(exact - approx) <= bound).all()


def test_streaming_chunks_equal_one_shot(collection, tmp_path):
    docs, queries, ids = collection
    whole = SparseIndex.build(docs, ids)
    chunked = SparseIndex.build(docs, ids, chunk_size=37)
    np.testing.assert_array_equal(whole.post_docs, chunked.post_docs)
    np.testing.assert_array_equal(whole.post_impacts, chunked.post_impacts)
    np.testing.assert_array_equal(whole.term_offsets, chunked.term_offsets)


def test_bad_arguments_give_clear_errors(collection):
    docs, queries, ids = collection
    index = SparseIndex.build(docs, ids)
    for k in (0, -3, 2.5, True):
        with pytest.raises(InputError, match="k must be"):
            index.search(queries, k=k)
    with pytest.raises(VocabularyMismatchError, match="dim 10"):
        index.search(SparseBatch.from_rows([([1], [1.0])], dim=10), k=3)
    with pytest.raises(InputError, match="SparseBatch"):
        index.search(np.ones((1, 300)), k=3)
    with pytest.raises(InputError, match="duplicate document id 'x'"):
        SparseIndex.build(docs[:2], ["x", "x"])
    with pytest.raises(InputError, match="empty collection"):
        SparseIndex.build(docs[:0], [])
    with pytest.raises(InputError, match=">= 0"):
        SparseIndex.build(SparseBatch.from_dense(np.array([[-1.0, 2.0]])), ["a"])
    with pytest.raises(InputError, match="2 document ids for 3"):
        SparseIndex.build(docs[:3], ["a", "b"])


def test_sparse_batch_from_scipy_round_trip():
    matrix = sp.random(20, 30, density=0.2, random_state=3, format="csr", dtype=np.float32)
    batch = SparseBatch.from_scipy(matrix)
    assert (batch.to_scipy() != matrix).nnz == 0
    assert SparseBatch.concat([batch[:7], batch[7:]]).to_scipy().nnz == matrix.nnz


ALGORITHMS = ("exhaustive", "maxscore", "blockmax", "auto")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("k", [1, 10, 100])
def test_every_algorithm_matches_the_oracle(collection, algorithm, k):
    docs, queries, ids = collection
    index = SparseIndex.build(docs, ids)
    result = index.search(queries, k=k, algorithm=algorithm)
    assert_matches_oracle(result, oracle(queries, index.dequantized(), k))


@pytest.mark.parametrize("bits", [8, 16])
def test_pruning_algorithms_are_bit_identical_to_exhaustive(bits):
    docs = skewed_batch(11)
    queries = skewed_batch(12, n_docs=60)
    index = SparseIndex.build(docs, [str(i) for i in range(len(docs))], bits=bits)
    for k in (1, 5, 10, 50, 1000, 5000):
        base = index.search(queries, k=k, algorithm="exhaustive")
        for algorithm in ("maxscore", "blockmax"):
            other = index.search(queries, k=k, algorithm=algorithm, threads=1)
            np.testing.assert_array_equal(other.indices, base.indices)
            np.testing.assert_array_equal(other.scores, base.scores)


def test_pruning_with_integer_ties_and_duplicate_blocks():
    docs = random_batch(2000, 30, 0.3, seed=21, integer=True)
    queries = random_batch(50, 30, 0.3, seed=22, integer=True)
    index = SparseIndex.build(docs, [str(i) for i in range(2000)])
    expected = oracle(queries, index.dequantized(raw=True), 20)
    for algorithm in ("maxscore", "blockmax"):
        result = index.search(queries, k=20, algorithm=algorithm)
        for i, hits in enumerate(expected):
            assert [int(d) for d in result.indices[i] if d >= 0] == [d for d, _ in hits]


def test_negative_query_weights_fall_back_to_exhaustive(collection):
    docs, _, ids = collection
    index = SparseIndex.build(docs, ids)
    queries = SparseBatch.from_rows([([1, 2, 3, 50], [1.0, -0.5, 2.0, 0.7])], dim=docs.dim)
    base = index.search(queries, k=10, algorithm="exhaustive")
    for algorithm in ("maxscore", "blockmax", "auto"):
        other = index.search(queries, k=10, algorithm=algorithm)
        np.testing.assert_array_equal(other.indices, base.indices)
    assert_matches_oracle(base, oracle(queries, index.dequantized(), 10))
    with pytest.raises(InputError, match="algorithm must be"):
        index.search(queries, k=10, algorithm="wand")


@pytest.mark.parametrize("query_density", [0.0005, 0.05])
def test_touched_list_and_dense_scan_layouts_agree_with_the_oracle(query_density):
    # Rare query terms take the touched-list layout, frequent ones the dense scan.
    docs = random_batch(5000, 2000, 0.003, seed=51)
    queries = random_batch(30, 2000, query_density, seed=52)
    index = SparseIndex.build(docs, [str(i) for i in range(5000)])
    result = index.search(queries, k=10, algorithm="exhaustive")
    assert_matches_oracle(result, oracle(queries, index.dequantized(), 10))
