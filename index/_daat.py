"""Exact document-at-a-time search with dynamic pruning: MaxScore and block-max MaxScore.

MaxScore (Turtle & Flood, "Query evaluation: strategies and optimizations", IP&M 1995) splits
the query terms, sorted by upper bound ``w_t x max impact_t``, into *non-essential* terms whose
bounds sum to at most the current k-th score and *essential* terms. Candidates come only from
essential lists; non-essential lists are probed (galloping search) only while the candidate can
still beat the k-th score. The block-max variant (Chakrabarti et al., WSDM 2011; Mallia et al.,
"Faster BlockMax WAND with variable-sized blocks", SIGIR 2017, as in PISA's
block_max_maxscore) first bounds a candidate with the per-block maxima of the non-essential
lists, which are much tighter than list maxima for learned sparse weights.

Scores are exact int64 sums, so results equal exhaustive search bit for bit: a candidate is
dropped only when ``score + bound <= threshold``, and a document that only ties the k-th score
loses the tie (documents arrive in increasing number, ties go to the lower number).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from lsr.index._kernels import drain_heap, heap_offer

_NO_DOC = np.iinfo(np.int32).max


@njit(cache=True, nogil=True)
def _next_geq(docs, cur, end, target):
    """First position in ``[cur, end)`` whose doc is >= ``target`` (galloping search)."""
    if cur >= end or docs[cur] >= target:
        return cur
    lo = cur
    step = 1
    hi = cur + 1
    while hi < end and docs[hi] < target:
        lo = hi
        step *= 2
        hi = lo + step
    if hi > end:
        hi = end
    lo += 1  # docs[lo - 1] < target; docs[hi] >= target or hi == end
    while lo < hi:
        mid = (lo + hi) >> 1
        if docs[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _daat_one(q_terms, q_weights, term_offsets, post_docs, post_impacts, term_max,
              block_offsets, block_max, block_last, block_size, use_blocks, k,
              heap_s, heap_d, out_idx, out_scores):
    n_terms_total = term_offsets.size - 1
    m = 0
    for i in range(q_terms.size):
        t = q_terms[i]
        if 0 <= t < n_terms_total and q_weights[i] != 0 and term_offsets[t + 1] > term_offsets[t]:
            m += 1
    if m == 0:
        return
    terms = np.empty(m, dtype=np.int64)
    ubs = np.empty(m, dtype=np.int64)
    j = 0
    for i in range(q_terms.size):
        t = q_terms[i]
        if 0 <= t < n_terms_total and q_weights[i] != 0 and term_offsets[t + 1] > term_offsets[t]:
            terms[j] = i
            ubs[j] = q_weights[i] * np.int64(term_max[t])
            j += 1
    order = np.argsort(ubs, kind="mergesort")  # ascending upper bound
    w = np.empty(m, dtype=np.int64)
    cur = np.empty(m, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    bcur = np.empty(m, dtype=np.int64)
    bend = np.empty(m, dtype=np.int64)
    prefix = np.empty(m, dtype=np.int64)
    bbound = np.zeros(m, dtype=np.int64)
    running = 0
    for r in range(m):
        i = terms[order[r]]
        t = q_terms[i]
        w[r] = q_weights[i]
        cur[r] = term_offsets[t]
        end[r] = term_offsets[t + 1]
        if use_blocks:
            bcur[r] = block_offsets[t]
            bend[r] = block_offsets[t + 1]
        running += ubs[order[r]]
        prefix[r] = running

    size = 0
    theta = np.int64(0)
    first = 0  # lists [first, m) are essential
    while first < m:
        doc = _NO_DOC
        for r in range(first, m):
            if cur[r] < end[r] and post_docs[cur[r]] < doc:
                doc = post_docs[cur[r]]
        if doc == _NO_DOC:
            break
        score = np.int64(0)
        for r in range(first, m):
            c = cur[r]
            if c < end[r] and post_docs[c] == doc:
                score += w[r] * np.int64(post_impacts[c])
                cur[r] = c + 1
        full = size == k
        alive = True
        if first > 0:
            if use_blocks:
                remaining = np.int64(0)
                for r in range(first):
                    b = bcur[r]
                    while b < bend[r] and block_last[b] < doc:
                        b += 1
                    bcur[r] = b
                    bbound[r] = w[r] * np.int64(block_max[b]) if b < bend[r] else 0
                    remaining += bbound[r]
                for r in range(first - 1, -1, -1):
                    if full and score + remaining <= theta:
                        alive = False
                        break
                    remaining -= bbound[r]
                    if bbound[r] == 0:
                        continue
                    c = _next_geq(post_docs, cur[r], end[r], doc)
                    cur[r] = c
                    if c < end[r] and post_docs[c] == doc:
                        score += w[r] * np.int64(post_impacts[c])
            else:
                for r in range(first - 1, -1, -1):
                    if full and score + prefix[r] <= theta:
                        alive = False
                        break
                    c = _next_geq(post_docs, cur[r], end[r], doc)
                    cur[r] = c
                    if c < end[r] and post_docs[c] == doc:
                        score += w[r] * np.int64(post_impacts[c])
        if not alive or score <= 0 or (full and score <= theta):
            continue
        size = heap_offer(heap_s, heap_d, size, k, score, doc)
        if size == k:
            theta = heap_s[0]
            while first < m and prefix[first] <= theta:
                first += 1
    drain_heap(heap_s, heap_d, size, out_idx, out_scores)


@njit(cache=True, nogil=True)
def daat_range(first, step, q_indptr, q_terms, q_weights, term_offsets, post_docs,
               post_impacts, term_max, block_offsets, block_max, block_last, block_size,
               use_blocks, k, out_idx, out_scores):
    """MaxScore (``use_blocks=False``) or block-max MaxScore top-k of queries ``first,
    first + step, ...`` into ``out_idx``/``out_scores`` (int64 (n, k), prefilled -1 / 0).
    Query weights must be positive integers (the caller falls back to exhaustive search
    otherwise)."""
    heap_s = np.empty(k, dtype=np.int64)
    heap_d = np.empty(k, dtype=np.int64)
    for q in range(first, q_indptr.size - 1, step):
        lo = q_indptr[q]
        hi = q_indptr[q + 1]
        _daat_one(q_terms[lo:hi], q_weights[lo:hi], term_offsets, post_docs, post_impacts,
                  term_max, block_offsets, block_max, block_last, block_size, use_blocks,
                  k, heap_s, heap_d, out_idx[q], out_scores[q])


@njit(cache=True, nogil=True, parallel=True)
def daat_parallel(q_indptr, q_terms, q_weights, term_offsets, post_docs, post_impacts,
                  term_max, block_offsets, block_max, block_last, block_size, use_blocks, k,
                  n_blocks, out_idx, out_scores):
    """``daat_range`` over ``n_blocks`` interleaved blocks of queries, one per thread."""
    for block in prange(n_blocks):
        daat_range(block, n_blocks, q_indptr, q_terms, q_weights, term_offsets, post_docs,
                   post_impacts, term_max, block_offsets, block_max, block_last, block_size,
                   use_blocks, k, out_idx, out_scores)
