"""Numba kernels of the inverted index: plain functions over contiguous NumPy arrays.

The Python wrappers in ``sparse_index.py`` validate and convert inputs; kernels assume:
term ids int32, posting doc numbers int32 (sorted within a list), impacts unsigned ints,
offsets int64, and integer query weights (int64). Scores are exact int64 sums of
``query weight x impact``: every algorithm (exhaustive, MaxScore, block-max) therefore returns
bit-identical rankings, with ties broken by lower document number. Every kernel is tested
against a brute-force scipy oracle.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def scatter_postings(indptr, indices, impacts, doc_offset, cursor, out_docs, out_impacts):
    """Append one chunk of documents to the posting lists.

    Documents arrive in increasing doc number, so every list stays sorted. ``cursor[t]`` is the
    next free slot of term ``t`` and is advanced in place. Zero impacts are skipped (they were
    dropped from the document frequencies too).
    """
    for row in range(indptr.size - 1):
        doc = doc_offset + row
        for j in range(indptr[row], indptr[row + 1]):
            imp = impacts[j]
            if imp == 0:
                continue
            term = indices[j]
            pos = cursor[term]
            out_docs[pos] = doc
            out_impacts[pos] = imp
            cursor[term] = pos + 1


@njit(cache=True, nogil=True, inline="always")
def _worse(score_a, doc_a, score_b, doc_b):
    """Ranking order: higher score first, then lower doc number."""
    return score_a < score_b or (score_a == score_b and doc_a > doc_b)


@njit(cache=True, nogil=True)
def _sift_down(heap_s, heap_d, size, pos):
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(heap_s[right], heap_d[right], heap_s[left], heap_d[left]):
            child = right
        if _worse(heap_s[child], heap_d[child], heap_s[pos], heap_d[pos]):
            heap_s[pos], heap_s[child] = heap_s[child], heap_s[pos]
            heap_d[pos], heap_d[child] = heap_d[child], heap_d[pos]
            pos = child
        else:
            return


@njit(cache=True, nogil=True)
def _sift_up(heap_s, heap_d, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if _worse(heap_s[pos], heap_d[pos], heap_s[parent], heap_d[parent]):
            heap_s[pos], heap_s[parent] = heap_s[parent], heap_s[pos]
            heap_d[pos], heap_d[parent] = heap_d[parent], heap_d[pos]
            pos = parent
        else:
            return


@njit(cache=True, nogil=True)
def _exact_one(q_terms, q_weights, term_offsets, post_docs, post_impacts, k,
               acc, seen, touched, heap_s, heap_d, out_idx, out_scores):
    """Term-at-a-time exhaustive scoring of one query, then a k-heap over scored documents.

    Two layouts of the same computation: when the query's lists hold fewer postings than an
    eighth of the collection, touched documents are recorded (``seen``/``touched``) and only
    they are visited afterwards; otherwise most documents are touched anyway, so the
    bookkeeping is skipped and the accumulator is scanned whole (one less random access per
    posting). ``acc``/``seen`` are zero on entry and restored to zero on exit, so one buffer
    serves many queries without an O(n_docs) reset per query.
    """
    n_terms = term_offsets.size - 1
    n_docs = acc.size
    total = 0
    for i in range(q_terms.size):
        term = q_terms[i]
        if 0 <= term < n_terms and q_weights[i] != 0:
            total += term_offsets[term + 1] - term_offsets[term]
    dense = total * 8 >= n_docs
    n_touched = 0
    for i in range(q_terms.size):
        term = q_terms[i]
        weight = q_weights[i]
        if term < 0 or term >= n_terms or weight == 0:
            continue
        if dense:
            for p in range(term_offsets[term], term_offsets[term + 1]):
                acc[post_docs[p]] += weight * np.int64(post_impacts[p])
        else:
            for p in range(term_offsets[term], term_offsets[term + 1]):
                doc = post_docs[p]
                if seen[doc] == 0:
                    seen[doc] = 1
                    touched[n_touched] = doc
                    n_touched += 1
                acc[doc] += weight * np.int64(post_impacts[p])
    size = 0
    if dense:
        for doc in range(n_docs):
            score = acc[doc]
            if score == 0:
                continue
            acc[doc] = 0
            # Cheap rejection first: a full heap's root is the score to beat (ties lose,
            # since documents arrive in increasing number).
            if score < 0 or (size == k and score <= heap_s[0]):
                continue
            size = heap_offer(heap_s, heap_d, size, k, score, doc)
    else:
        for i in range(n_touched):
            doc = touched[i]
            score = acc[doc]
            acc[doc] = 0
            seen[doc] = 0
            if score <= 0:
                continue
            size = heap_offer(heap_s, heap_d, size, k, score, doc)
    drain_heap(heap_s, heap_d, size, out_idx, out_scores)


@njit(cache=True, nogil=True)
def heap_offer(heap_s, heap_d, size, k, score, doc):
    """Offer ``(score, doc)`` to a k-heap whose root is the worst hit; return the new size."""
    if size < k:
        heap_s[size] = score
        heap_d[size] = doc
        _sift_up(heap_s, heap_d, size)
        return size + 1
    if _worse(heap_s[0], heap_d[0], score, doc):
        heap_s[0] = score
        heap_d[0] = doc
        _sift_down(heap_s, heap_d, size, 0)
    return size


@njit(cache=True, nogil=True)
def drain_heap(heap_s, heap_d, size, out_idx, out_scores):
    """Empty the heap into the outputs, best first (pop the worst, fill from the back)."""
    for slot in range(size - 1, -1, -1):
        out_scores[slot] = heap_s[0]
        out_idx[slot] = heap_d[0]
        heap_s[0] = heap_s[size - 1]
        heap_d[0] = heap_d[size - 1]
        size -= 1
        _sift_down(heap_s, heap_d, size, 0)


@njit(cache=True, nogil=True)
def exact_range(first, step, q_indptr, q_terms, q_weights, term_offsets, post_docs,
                post_impacts, k, acc, seen, touched, out_idx, out_scores):
    """Exhaustive top-k of queries ``first, first + step, ...`` into ``out_idx``/``out_scores``
    (int64 (n, k), prefilled with -1 / 0). ``acc`` (int64), ``seen`` (uint8) and ``touched``
    (int32), each of length n_docs, are scratch that must be zero on entry and are left zero,
    so callers keep them across calls instead of paying page faults on every query."""
    heap_s = np.empty(k, dtype=np.int64)
    heap_d = np.empty(k, dtype=np.int64)
    for q in range(first, q_indptr.size - 1, step):
        lo = q_indptr[q]
        hi = q_indptr[q + 1]
        _exact_one(q_terms[lo:hi], q_weights[lo:hi], term_offsets, post_docs, post_impacts,
                   k, acc, seen, touched, heap_s, heap_d, out_idx[q], out_scores[q])


@njit(cache=True, nogil=True, parallel=True)
def exact_parallel(q_indptr, q_terms, q_weights, term_offsets, post_docs, post_impacts, k,
                   acc, seen, touched, out_idx, out_scores):
    """``exact_range`` over ``acc.shape[0]`` interleaved blocks of queries, one per thread;
    scratch arrays are 2-d, one row per block."""
    n_blocks = acc.shape[0]
    for block in prange(n_blocks):
        exact_range(block, n_blocks, q_indptr, q_terms, q_weights, term_offsets, post_docs,
                    post_impacts, k, acc[block], seen[block], touched[block], out_idx,
                    out_scores)


@njit(cache=True, nogil=True)
def build_blocks(term_offsets, post_docs, post_impacts, block_size):
    """Cut every posting list into blocks of ``block_size`` postings.

    Returns ``block_offsets`` (int64, n_terms + 1: term t owns blocks
    ``block_offsets[t]:block_offsets[t + 1]``), ``block_max`` (the largest impact in each
    block, same dtype as the impacts) and ``block_last`` (int32, the last doc of each block).
    """
    n_terms = term_offsets.size - 1
    block_offsets = np.zeros(n_terms + 1, dtype=np.int64)
    for t in range(n_terms):
        length = term_offsets[t + 1] - term_offsets[t]
        block_offsets[t + 1] = block_offsets[t] + (length + block_size - 1) // block_size
    n_blocks = block_offsets[n_terms]
    block_max = np.zeros(n_blocks, dtype=post_impacts.dtype)
    block_last = np.zeros(n_blocks, dtype=np.int32)
    for t in range(n_terms):
        start = term_offsets[t]
        end = term_offsets[t + 1]
        b = block_offsets[t]
        for lo in range(start, end, block_size):
            hi = min(lo + block_size, end)
            top = post_impacts[lo]
            for p in range(lo + 1, hi):
                if post_impacts[p] > top:
                    top = post_impacts[p]
            block_max[b] = top
            block_last[b] = post_docs[hi - 1]
            b += 1
    return block_offsets, block_max, block_last
