"""Numba kernels of approximate search (the Seismic family).

Seismic (Bruch, Nardini, Rulli, Venturini, "Efficient Inverted Indexes for Approximate Retrieval
over Learned Sparse Representations", SIGIR 2024) keeps the top postings of every term, groups
them into blocks of similar documents, summarises each block by the per-term maximum over its
documents (pruned to a fraction of its mass), and at query time scores a block's documents
exactly (from a forward index) only when the block summary's dot product with the query could
enter the top k. Our clustering of each posting list is a PCA tree (recursive median splits
along the principal direction) over random projections of the document vectors: similar
documents end up in the same block at O(n log n) per list instead of a k-means.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from lsr.index._kernels import drain_heap, heap_offer


@njit(cache=True, nogil=True)
def forward_from_postings(term_offsets, post_docs, post_impacts, indptr, terms, impacts):
    """Invert posting lists into a forward index: fills ``terms``/``impacts`` so that document
    ``d`` owns ``[indptr[d], indptr[d + 1])``. Terms come out sorted within each document
    because the lists are visited in term order."""
    cursor = indptr[:-1].copy()
    for t in range(term_offsets.size - 1):
        for p in range(term_offsets[t], term_offsets[t + 1]):
            d = post_docs[p]
            pos = cursor[d]
            terms[pos] = t
            impacts[pos] = post_impacts[p]
            cursor[d] = pos + 1


@njit(cache=True, nogil=True)
def signatures(fwd_indptr, fwd_terms, fwd_impacts, projection):
    """Random projections of the document vectors, L2-normalised: float32 (n_docs, dims)."""
    n_docs = fwd_indptr.size - 1
    dims = projection.shape[1]
    out = np.zeros((n_docs, dims), dtype=np.float32)
    for d in range(n_docs):
        for p in range(fwd_indptr[d], fwd_indptr[d + 1]):
            w = np.float32(fwd_impacts[p])
            row = projection[fwd_terms[p]]
            for j in range(dims):
                out[d, j] += w * row[j]
        norm = 0.0
        for j in range(dims):
            norm += out[d, j] * out[d, j]
        if norm > 0:
            inv = np.float32(1.0 / np.sqrt(norm))
            for j in range(dims):
                out[d, j] *= inv
    return out


@njit(cache=True, nogil=True)
def pca_tree_order(sig, leaf_size, seed):
    """A document order in which neighbours are similar: recursive median splits along the
    principal direction (a few power iterations) of each range's signatures."""
    np.random.seed(seed)
    n, dims = sig.shape
    order = np.arange(n).astype(np.int64)
    stack_lo = [0]
    stack_hi = [n]
    mean = np.empty(dims, dtype=np.float64)
    vec = np.empty(dims, dtype=np.float64)
    nxt = np.empty(dims, dtype=np.float64)
    while len(stack_lo) > 0:
        lo = stack_lo.pop()
        hi = stack_hi.pop()
        m = hi - lo
        if m <= leaf_size:
            continue
        mean[:] = 0.0
        for i in range(lo, hi):
            row = sig[order[i]]
            for j in range(dims):
                mean[j] += row[j]
        for j in range(dims):
            mean[j] /= m
            vec[j] = np.random.standard_normal()
        for _ in range(3):  # power iterations on the covariance, matrix-free
            nxt[:] = 0.0
            for i in range(lo, hi):
                row = sig[order[i]]
                dot = 0.0
                for j in range(dims):
                    dot += (row[j] - mean[j]) * vec[j]
                for j in range(dims):
                    nxt[j] += dot * (row[j] - mean[j])
            norm = np.sqrt(np.sum(nxt * nxt))
            if norm == 0:
                break
            vec[:] = nxt / norm
        proj = np.empty(m, dtype=np.float64)
        for i in range(lo, hi):
            row = sig[order[i]]
            dot = 0.0
            for j in range(dims):
                dot += row[j] * vec[j]
            proj[i - lo] = dot
        perm = np.argsort(proj, kind="mergesort")
        segment = order[lo:hi].copy()
        for i in range(m):
            order[lo + i] = segment[perm[i]]
        mid = lo + m // 2
        stack_lo.append(lo)
        stack_hi.append(mid)
        stack_lo.append(mid)
        stack_hi.append(hi)
    return order


@njit(cache=True, nogil=True)
def _summary_threshold(values, count, energy, max_terms):
    """Smallest impact kept in a block summary: the largest entries that hold ``energy`` of
    the summary's mass, at most ``max_terms`` of them (ties at the threshold may keep a few
    fewer). A histogram over the integer impacts (8-bit buckets for wider impacts) makes this
    linear time, with no sort."""
    top = 0
    for i in range(count):
        if values[i] > top:
            top = values[i]
    shift = 0
    while (top >> shift) > 255:
        shift += 1
    hist = np.zeros((top >> shift) + 1, dtype=np.int64)
    mass = np.zeros((top >> shift) + 1, dtype=np.int64)
    total = 0
    for i in range(count):
        bucket = values[i] >> shift
        hist[bucket] += 1
        mass[bucket] += values[i]
        total += values[i]
    need = energy * total
    acc = 0
    kept = 0
    for bucket in range(top >> shift, 0, -1):
        if kept + hist[bucket] > max_terms and kept > 0:
            return (bucket + 1) << shift
        kept += hist[bucket]
        acc += mass[bucket]
        if acc >= need:
            return bucket << shift
    return 1


@njit(cache=True, nogil=True)
def _block_union(docs_lo, docs_hi, block_docs, fwd_indptr, fwd_terms, fwd_impacts, dense,
                 touched):
    """Per-term max impacts over the documents ``block_docs[docs_lo:docs_hi]``, left in
    ``dense``; returns (touched terms, their count) — the caller must zero ``dense`` again."""
    count = 0
    for i in range(docs_lo, docs_hi):
        d = block_docs[i]
        for p in range(fwd_indptr[d], fwd_indptr[d + 1]):
            term = fwd_terms[p]
            if dense[term] == 0:
                if count == touched.size:
                    grown = np.empty(touched.size * 2, dtype=np.int64)
                    grown[:count] = touched[:count]
                    touched = grown
                touched[count] = term
                count += 1
            if fwd_impacts[p] > dense[term]:
                dense[term] = fwd_impacts[p]
    return touched, count


@njit(cache=True, nogil=True)
def _block_summary(b, block_docs_offsets, block_docs, fwd_indptr, fwd_terms, fwd_impacts,
                   dense, touched, energy, max_terms):
    """Block ``b``'s candidate summary: (touched terms, their count, their max impacts, the
    smallest impact kept). ``dense`` is zero on entry and on exit; ``touched`` may grow."""
    touched, count = _block_union(block_docs_offsets[b], block_docs_offsets[b + 1], block_docs,
                                  fwd_indptr, fwd_terms, fwd_impacts, dense, touched)
    values = np.empty(count, dtype=np.int64)
    for i in range(count):
        values[i] = dense[touched[i]]
        dense[touched[i]] = 0
    return touched, count, values, _summary_threshold(values, count, energy, max_terms)


@njit(cache=True, nogil=True)
def _select_and_order(t, term_offsets, post_docs, post_impacts, sig, kept, leaf_size, out):
    """Write the ``kept`` highest-impact documents of term ``t`` into ``out``, ordered so
    that similar documents are adjacent: a PCA tree over their signatures, built per posting
    list (Seismic clusters each list separately too: a global order leaves the few thousand
    documents of one list scattered, and their blocks would share few terms)."""
    start = term_offsets[t]
    length = term_offsets[t + 1] - start
    if kept < length:
        # Highest impacts first; stable, so ties keep lower doc numbers.
        chosen = np.argsort(-post_impacts[start:start + length].astype(np.int64),
                            kind="mergesort")[:kept]
        docs = post_docs[start:start + length][chosen]
    else:
        docs = post_docs[start:start + length].copy()
    local = np.empty((docs.size, sig.shape[1]), dtype=np.float32)
    for i in range(docs.size):
        local[i] = sig[docs[i]]
    order = pca_tree_order(local, leaf_size, t)
    for i in range(docs.size):
        out[i] = docs[order[i]]


@njit(cache=True, nogil=True, parallel=True)
def build_blocks_and_summaries(term_offsets, post_docs, post_impacts, sig, n_postings,
                               block_size, fwd_indptr, fwd_terms, fwd_impacts, energy,
                               max_terms):
    """Per term: keep the ``n_postings`` highest-impact postings, order them with a PCA tree
    over their signatures ``sig`` (float32 (n_docs, dims)), cut them into blocks of
    ``block_size`` and summarise each block by its per-term max impacts pruned to ``energy``
    of their mass and at most ``max_terms`` entries.

    Returns (term_blocks int64 (n_terms + 1), block_docs_offsets int64 (n_blocks + 1),
    block_docs int32, summary_offsets int64 (n_blocks + 1), summary_terms, summary_impacts).
    """
    n_terms = term_offsets.size - 1
    kept = np.zeros(n_terms, dtype=np.int64)
    term_blocks = np.zeros(n_terms + 1, dtype=np.int64)
    doc_base = np.zeros(n_terms + 1, dtype=np.int64)
    for t in range(n_terms):
        kept[t] = min(term_offsets[t + 1] - term_offsets[t], n_postings)
        term_blocks[t + 1] = term_blocks[t] + (kept[t] + block_size - 1) // block_size
        doc_base[t + 1] = doc_base[t] + kept[t]
    n_blocks = term_blocks[n_terms]
    block_docs = np.empty(doc_base[n_terms], dtype=np.int32)
    block_docs_offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for t in range(n_terms):
        for b in range(term_blocks[t], term_blocks[t + 1]):
            lo = (b - term_blocks[t]) * block_size
            block_docs_offsets[b + 1] = doc_base[t] + min(lo + block_size, kept[t])
    summary_sizes = np.zeros(n_blocks, dtype=np.int64)
    # Scratch arrays are per chunk of terms, not per term: a dense vocabulary-sized array
    # allocated per term would cost more than the work itself.
    n_chunks = 64
    for chunk in prange(n_chunks):
        dense = np.zeros(n_terms, dtype=np.int64)
        touched = np.empty(block_size * 512, dtype=np.int64)
        for t in range(chunk, n_terms, n_chunks):
            if kept[t] == 0:
                continue
            _select_and_order(t, term_offsets, post_docs, post_impacts, sig, kept[t],
                              block_size, block_docs[doc_base[t]:doc_base[t + 1]])
            for b in range(term_blocks[t], term_blocks[t + 1]):
                touched, count, values, cut = _block_summary(
                    b, block_docs_offsets, block_docs, fwd_indptr, fwd_terms, fwd_impacts,
                    dense, touched, energy, max_terms)
                summary_sizes[b] = np.sum(values >= cut)
    summary_offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    for b in range(n_blocks):
        summary_offsets[b + 1] = summary_offsets[b] + summary_sizes[b]
    n_summary = summary_offsets[n_blocks]
    summary_terms = np.empty(n_summary, dtype=fwd_terms.dtype)
    summary_impacts = np.empty(n_summary, dtype=post_impacts.dtype)
    for chunk in prange(n_chunks):
        dense = np.zeros(n_terms, dtype=np.int64)
        touched = np.empty(block_size * 512, dtype=np.int64)
        for t in range(chunk, n_terms, n_chunks):
            for b in range(term_blocks[t], term_blocks[t + 1]):
                touched, count, values, cut = _block_summary(
                    b, block_docs_offsets, block_docs, fwd_indptr, fwd_terms, fwd_impacts,
                    dense, touched, energy, max_terms)
                pos = summary_offsets[b]
                for i in range(count):
                    if values[i] >= cut:
                        summary_terms[pos] = touched[i]
                        summary_impacts[pos] = values[i]
                        pos += 1
    return (term_blocks, block_docs_offsets, block_docs, summary_offsets, summary_terms,
            summary_impacts)


@njit(cache=True, nogil=True)
def _approx_one(q_terms, q_weights, n_terms, query_cut, heap_factor, k, term_blocks,
                block_docs_offsets, block_docs, summary_offsets, summary_terms, summary_impacts,
                fwd_indptr, fwd_terms, fwd_impacts, qdense, visited, touched, heap_s, heap_d,
                out_idx, out_scores):
    m = q_terms.size
    for i in range(m):
        t = q_terms[i]
        if 0 <= t < n_terms:
            qdense[t] = q_weights[i]
    order = np.argsort(-q_weights, kind="mergesort")
    n_touched = 0
    size = 0
    theta = np.float32(0.0)
    cut = min(query_cut, m)
    for r in range(cut):
        i = order[r]
        t = q_terms[i]
        if t < 0 or t >= n_terms or q_weights[i] <= 0:
            continue
        for b in range(term_blocks[t], term_blocks[t + 1]):
            if size == k:
                bound = np.float32(0.0)
                for p in range(summary_offsets[b], summary_offsets[b + 1]):
                    bound += qdense[summary_terms[p]] * np.float32(summary_impacts[p])
                if bound * heap_factor <= theta:
                    continue
            for j in range(block_docs_offsets[b], block_docs_offsets[b + 1]):
                d = block_docs[j]
                if visited[d]:
                    continue
                visited[d] = True
                touched[n_touched] = d
                n_touched += 1
                score = np.float32(0.0)
                for p in range(fwd_indptr[d], fwd_indptr[d + 1]):
                    score += qdense[fwd_terms[p]] * np.float32(fwd_impacts[p])
                if score <= 0:
                    continue
                size = heap_offer(heap_s, heap_d, size, k, score, d)
                if size == k:
                    theta = heap_s[0]
    for i in range(n_touched):
        visited[touched[i]] = False
    for i in range(m):
        t = q_terms[i]
        if 0 <= t < n_terms:
            qdense[t] = 0.0
    drain_heap(heap_s, heap_d, size, out_idx, out_scores)


@njit(cache=True, nogil=True)
def approx_range(first, step, q_indptr, q_terms, q_weights, n_terms, query_cut, heap_factor, k,
                 term_blocks, block_docs_offsets, block_docs, summary_offsets, summary_terms,
                 summary_impacts, fwd_indptr, fwd_terms, fwd_impacts, qdense, visited, touched,
                 out_idx, out_scores):
    """Approximate top-k of queries ``first, first + step, ...`` into ``out_idx`` (int64) /
    ``out_scores`` (float32, units of query weight x impact). ``qdense`` (float32, n_terms),
    ``visited`` (bool, n_docs) and ``touched`` (int32, n_docs) are zeroed scratch, left zero."""
    heap_s = np.empty(k, dtype=np.float32)
    heap_d = np.empty(k, dtype=np.int64)
    for q in range(first, q_indptr.size - 1, step):
        lo = q_indptr[q]
        hi = q_indptr[q + 1]
        _approx_one(q_terms[lo:hi], q_weights[lo:hi], n_terms, query_cut, heap_factor, k,
                    term_blocks, block_docs_offsets, block_docs, summary_offsets,
                    summary_terms, summary_impacts, fwd_indptr, fwd_terms, fwd_impacts,
                    qdense, visited, touched, heap_s, heap_d, out_idx[q], out_scores[q])


@njit(cache=True, nogil=True, parallel=True)
def approx_parallel(q_indptr, q_terms, q_weights, n_terms, query_cut, heap_factor, k,
                    term_blocks, block_docs_offsets, block_docs, summary_offsets, summary_terms,
                    summary_impacts, fwd_indptr, fwd_terms, fwd_impacts, qdense, visited,
                    touched, out_idx, out_scores):
    """``approx_range`` over ``qdense.shape[0]`` interleaved blocks of queries, one per
    thread; scratch arrays are 2-d, one row per block."""
    n_blocks = qdense.shape[0]
    for block in prange(n_blocks):
        approx_range(block, n_blocks, q_indptr, q_terms, q_weights, n_terms, query_cut,
                     heap_factor, k, term_blocks, block_docs_offsets, block_docs,
                     summary_offsets, summary_terms, summary_impacts, fwd_indptr, fwd_terms,
                     fwd_impacts, qdense[block], visited[block], touched[block], out_idx,
                     out_scores)
