"""Benchmark collections, part 2: synthetic SPLADE-like collections fitted to the real vectors.

    python scripts/synthetic.py --docs 100000 1000000 [4000000] [--model seeded|independent]
                                [--queries 1000] [--seed 0] [--cache DIR]
                                [--no-validate | --validate-sizes 100000 [1000000]]

Measured on 2 shared cores: fit + calibration 4-20 s; ~15M postings/s unloaded (1M documents,
248M postings, 1.9 GB: 20-40 s; 4M documents, 994M postings, 7.4 GB: 150 s with the other core
busy); resident memory ~1.1 GB while generating (one chunk), ~0.1 GB to load (memory-mapped).

Run from the repo root; this file puts its own folder on ``sys.path`` to import ``benchdata``
(the real splade-tiny SciFact vectors, encoded and cached on first use). Other scripts use
``load_synthetic(n_docs, cache)`` the same way (see ``benchdata.py``'s docstring).

Why not plain Zipf: pruning (MaxScore, block-max WAND, Seismic) lives on the gap between
per-term upper bounds and the top-k threshold, and that gap is a property of how SPLADE weights
depend on the term and of how queries relate to documents. Everything here is fitted to the
splade-tiny vectors of SciFact (5,183 documents, 300 test queries):

- term document frequency as a rate per document, ``df_t(N) = rate_t * N``;
- per-term weight distributions: weights go to a global normal-score space (the global
  empirical CDF of all document weights), where each term is a location-scale normal shrunk to
  its df bucket for rare terms, blended with the term's own empirical quantiles for frequent
  ones (``lambda = n / (n + 50)``); the global quantile function maps back, with a linear tail
  past the largest observed weight so that collections larger than SciFact get slightly larger
  maxima instead of a hard cap;
- non-zeros per document and per query (the empirical distributions);
- query terms and weights: a per-term query weight model in the query weights' own normal-score
  space, shrunk towards a regression on the document-side term mean; a background query-term
  distribution ``qdf_t + beta * h(df_t)``, with ``beta`` set so that the mass on terms unseen in
  the 300 queries matches the Good-Turing estimate.

Two models (``--model``):

``seeded`` (default). Document ``i`` has a seed real document (one fresh permutation of the
real documents per 5,183 synthetic ones) and its length. It keeps half of the seed's terms,
preferring the ones the seed weighs highly for that term (a term with weight score ``g``, a
standard normal within its term, is kept with probability ``Phi(a + g)``, ``a`` set for a mean
of 0.5): a related document shares a topic's salient words, not its expansions. Kept weights
are correlated 0.8 with the seed's (in each term's normal-score space). The rest of its terms
are drawn without replacement from a sampler calibrated so that every term's overall document
rate equals its real rate, with weight scores shifted so that each term's weight distribution
over the collection stays the fitted one. Query ``j`` perturbs a real test query the same way
(keeps 90% of its terms, salient ones preferred, weights correlated 0.9; the rest from the
background query distribution); the 1,000 queries are the same at every collection size.

So SciFact's topical structure — which documents a query is about, which documents resemble
each other — survives at any scale, diluted. Independent documents give every query a flat
score distribution (top-1 score 16 instead of 32 at SciFact's size), which is what defeats
pruning on plain synthetic data. The price: each real document has ``N / 5,183`` synthetic
siblings (193 at 1M) that overlap like close real neighbours do (binary cosine ~0.41; median
real nearest neighbour 0.35, random real pairs 0.15), so at 1M and 4M the top 10 of a query
are mostly siblings of its best real document, with close scores. Pruning and clustering
methods find that easier than a real 1M-document collection probably is; the ``independent``
model is the pessimistic bracket. Siblings are not adjacent in document-id order.

``independent`` (the baseline the validation compares against): every document draws its
length from the real nnz distribution and all its terms from the calibrated sampler, every
query its length and terms from the query fits. No topical structure.

Generation is a Numba kernel with a counter-based random stream per row (same output for any
chunk size or thread count), streamed in chunks of ``CHUNK`` documents into memory-mapped
``.npy`` files; a collection directory is written under a temporary name and renamed into place.
Layout under the cache (``benchdata.cache_dir``)::

    synthetic/{model}-n{N}-s{seed}-v{VERSION}/{indptr,indices,values}.npy  queries.npz  meta.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numba import njit, prange
from scipy.special import ndtr, ndtri

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdata import cache_dir, collection_stats, load_real, print_table  # noqa: E402

from lsr.sparse import SparseBatch  # noqa: E402

VERSION = 1            # bump when the generator's output changes; old caches are not reused
CHUNK = 200_000        # documents per generated chunk (~50M postings, ~400 MB of buffers)
GRID = np.linspace(-4.0, 4.0, 33)           # per-term quantile knots in standard-normal units
ZMAX = 6.0
ZGRID = np.linspace(-ZMAX, ZMAX, 1201)      # global normal-score -> weight table
LAMBDA_N = 50.0        # a term's own quantiles get weight n / (n + LAMBDA_N)
SHRINK_N = 5.0         # pseudo-observations of the df-bucket prior for mean and variance


@dataclass(frozen=True)
class Config:
    model: str = "seeded"          # "seeded" | "independent"
    seed: int = 0
    n_queries: int = 1000
    # seeded model (see the module docstring for how these were chosen):
    rho: float = 0.5               # mean fraction of a seed document's terms kept
    keep_slope: float = 1.0        # a seed term is kept with Phi(a + slope * its weight score)
    weight_corr: float = 0.8       # correlation of a kept term's weight score with the seed's
    query_keep: float = 0.9        # mean fraction of a template query's terms kept
    query_keep_slope: float = 1.0
    query_corr: float = 0.9        # correlation of kept query weight scores with the template's
    calibration_docs: int = 40_000
    calibration_rounds: int = 5


# -- random numbers and interpolation (Numba) --------------------------------------------------
@njit(cache=True, inline="always")
def _next(state):
    """splitmix64: (new state, uniform float64 in [0, 1))."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _normal(state):
    state, u1 = _next(state)
    state, u2 = _next(state)
    return state, math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, inline="always")
def _interp(table, x0, step, x):
    """Linear interpolation on a uniform grid, extrapolating the end segments."""
    f = (x - x0) / step
    i = min(max(int(math.floor(f)), 0), table.size - 2)
    return table[i] + (f - i) * (table[i + 1] - table[i])


@njit(cache=True, parallel=True)
def _generate(row_ids, seeds, indptr, seed_indptr, seed_indices, seed_g, keep_a, keep_b, corr,
              fill_mu, cum, term_q, g0, gstep, wtab, z0, zstep, wmin, rng_seed, out_indices,
              out_values, n_blocks):
    """Fill ``out_*[indptr[r]:indptr[r+1]]`` for every row ``r``: sorted terms, weights.

    A row keeps each term of its seed row (``seeds[r] >= 0``) with probability ``keep``, its
    standard-normal score correlated ``corr`` with the seed's (``seed_g``), then draws the rest
    without replacement from the cumulative distribution ``cum`` (rejecting repeats).
    Scores map to weights through ``term_q[t]`` (score -> normal-score) and ``wtab``.
    """
    n, dim = row_ids.size, cum.size
    marks = np.zeros((n_blocks, dim), dtype=np.int64)
    per = (n + n_blocks - 1) // n_blocks
    noise = math.sqrt(max(0.0, 1.0 - corr * corr))
    short = 0
    for b in prange(n_blocks):
        mark = marks[b]
        for r in range(b * per, min(n, (b + 1) * per)):
            stamp = row_ids[r] + 1
            state = np.uint64(rng_seed) * np.uint64(0xD1342543DE82EF95) + np.uint64(stamp)
            state, _ = _next(state)
            lo, hi = indptr[r], indptr[r + 1]
            c = lo
            s = seeds[r]
            if s >= 0:
                for p in range(seed_indptr[s], seed_indptr[s + 1]):
                    state, u = _next(state)
                    keep = 0.5 * math.erfc(-(keep_a + keep_b * seed_g[p]) / math.sqrt(2.0))
                    if u < keep and c < hi:
                        t = seed_indices[p]
                        mark[t] = stamp
                        out_indices[c] = t
                        state, e = _normal(state)
                        out_values[c] = corr * seed_g[p] + noise * e
                        c += 1
            tries = 0
            while c < hi and tries < 1000 * (hi - lo) + 10000:
                tries += 1
                state, u = _next(state)
                t = min(np.searchsorted(cum, u, side="right"), dim - 1)
                if mark[t] == stamp:
                    continue
                mark[t] = stamp
                out_indices[c] = t
                state, e = _normal(state)
                out_values[c] = fill_mu + e
                c += 1
            while c < hi:   # only if the sampler has fewer terms than the row wants
                short += 1
                out_indices[c] = -1
                c += 1
            order = np.argsort(out_indices[lo:hi])
            terms = out_indices[lo:hi][order].copy()
            scores = out_values[lo:hi][order].copy()
            for j in range(hi - lo):
                t = terms[j]
                out_indices[lo + j] = t
                z = _interp(term_q[t], g0, gstep, scores[j])
                out_values[lo + j] = max(wmin, _interp(wtab, z0, zstep, min(z, ZMAX)))
    return short


@njit(cache=True)
def _invert(term_q, g0, gstep, terms, z):
    """Standard-normal score of each ``z`` under its term's quantile table (inverse of _interp)."""
    out = np.empty(z.size, dtype=np.float32)
    k = term_q.shape[1]
    for i in range(z.size):
        row = term_q[terms[i]]
        j = min(max(np.searchsorted(row, z[i]) - 1, 0), k - 2)
        span = row[j + 1] - row[j]
        out[i] = g0 + gstep * (j + ((z[i] - row[j]) / span if span > 0 else 0.5))
    return out


# -- fitting -------------------------------------------------------------------------------------
def _normal_scores(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores of ``values`` under their own empirical CDF, and the ZGRID -> value table."""
    n = values.size
    ranks = np.empty(n, dtype=np.float64)
    ranks[np.argsort(values, kind="stable")] = np.arange(n)
    z = ndtri((ranks + 0.5) / n).astype(np.float32)
    table = np.quantile(values.astype(np.float64), ndtr(ZGRID))
    # Past the largest observed value, continue the slope of the top 0.1% instead of capping.
    z_top, z_hi = ndtri(0.999), ndtri(1.0 - 0.5 / n)
    slope = (np.quantile(values, ndtr(z_hi)) - np.quantile(values, 0.999)) / (z_hi - z_top)
    above = ZGRID > z_hi
    table[above] = values.max() + slope * (ZGRID[above] - z_hi)
    return z, np.maximum.accumulate(table).astype(np.float32)


def _grouped(terms: np.ndarray, dim: int):
    """(order, starts, counts): postings sorted by term, with each term's slice."""
    order = np.argsort(terms, kind="stable")
    counts = np.bincount(terms, minlength=dim)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return order, starts, counts


def _moments(z, order, starts, counts):
    zs = z[order].astype(np.float64)
    n = np.maximum(counts, 1)
    mean = np.add.reduceat(np.append(zs, 0), starts[:-1])[: counts.size] / n
    sq = np.add.reduceat(np.append(zs * zs, 0), starts[:-1])[: counts.size] / n
    mean[counts == 0] = 0.0
    var = np.where(counts > 0, np.maximum(sq - mean * mean, 0.0), 0.0)
    return zs, mean, var


def _shrink(mean, var, counts, prior_mean, prior_var):
    m = (counts * mean + SHRINK_N * prior_mean) / (counts + SHRINK_N)
    dof = np.maximum(counts - 1, 0)
    v = (dof * var * counts / np.maximum(dof, 1) + SHRINK_N * prior_var) / (dof + SHRINK_N)
    return m, np.sqrt(v)


def _tables(mean, sd, zs=None, starts=None, counts=None):
    """Per-term quantile tables on GRID: the normal model, blended with empirical quantiles."""
    table = mean[:, None] + sd[:, None] * GRID[None, :]
    if zs is not None:
        ok = np.flatnonzero(counts >= 2)
        n = counts[ok].astype(np.float64)
        sorted_z = zs.copy()
        for t in ok:       # sort each term's scores in place (15k small sorts)
            sorted_z[starts[t]:starts[t + 1]].sort()
        pos = ndtr(GRID)[None, :] * (n[:, None] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n[:, None].astype(np.int64) - 1)
        base = starts[ok][:, None]
        emp = sorted_z[base + lo] + (pos - lo) * (sorted_z[base + hi] - sorted_z[base + lo])
        lam = (n / (n + LAMBDA_N))[:, None]
        table[ok] = lam * emp + (1 - lam) * table[ok]
    table = np.maximum.accumulate(table, axis=1)
    table += np.arange(GRID.size) * 1e-6          # strictly increasing, for _invert
    return table.astype(np.float32)


def _buckets(df: np.ndarray) -> np.ndarray:
    return np.where(df > 0, np.floor(np.log2(np.maximum(df, 1))).astype(np.int64) + 1, 0)


def _bucket_mean(values, buckets, mask):
    out = np.zeros(buckets.max() + 1)
    for b in range(out.size):
        sel = mask & (buckets == b)
        out[b] = values[sel].mean() if sel.any() else values[mask].mean()
    return out[buckets]


@dataclass
class Fit:
    dim: int
    vocab: np.ndarray
    rate: np.ndarray             # float64 (dim,) real document frequency / N
    doc_nnz: np.ndarray          # int64 (n_real,)
    doc_rows: SparseBatch        # real documents, the seeds
    doc_g: np.ndarray            # float32 per real posting: its standard-normal score in its term
    doc_q: np.ndarray            # float32 (dim, GRID) score -> normal-score tables
    doc_w: np.ndarray            # float32 (ZGRID,) normal-score -> weight
    query_rows: SparseBatch
    query_g: np.ndarray
    query_q: np.ndarray
    query_w: np.ndarray
    query_p: np.ndarray          # float64 (dim,) background query-term distribution
    doc_min: float
    query_min: float
    filler: np.ndarray | None = None   # calibrated cumulative document-term sampler


def fit(real: dict) -> Fit:
    docs, queries = real["docs"], real["queries"]
    dim, n_real = docs.dim, len(docs)
    z, doc_w = _normal_scores(docs.values)
    order, starts, counts = _grouped(docs.indices, dim)
    zs, mean, var = _moments(z, order, starts, counts)
    buckets = _buckets(counts)
    seen = counts >= 2
    m, sd = _shrink(mean, var, counts, _bucket_mean(mean, buckets, seen),
                    _bucket_mean(var, buckets, seen))
    doc_q = _tables(m, sd, zs, starts, counts)
    doc_g = _invert(doc_q, GRID[0], GRID[1] - GRID[0], docs.indices, z)

    qz, query_w = _normal_scores(queries.values)
    qorder, qstarts, qcounts = _grouped(queries.indices, dim)
    _, qmean, qvar = _moments(qz, qorder, qstarts, qcounts)
    # Query-side prior: a linear regression on the document-side term mean (r ~ 0.76 in SciFact).
    sel = qcounts >= 2
    slope, intercept = np.polyfit(m[sel], qmean[sel], 1)
    qm, qsd = _shrink(qmean, qvar, qcounts, intercept + slope * m,
                      np.full(dim, qvar[sel].mean()))
    query_q = _tables(qm, qsd)
    query_g = _invert(query_q, GRID[0], GRID[1] - GRID[0], queries.indices, qz)

    # Background query terms: observed counts plus a df-bucket prior carrying the Good-Turing
    # estimate of the mass of terms the 300 queries never used.
    h = _bucket_mean(qcounts.astype(np.float64), buckets, np.ones(dim, bool))
    unseen = np.sum(qcounts == 1) / qcounts.sum()
    prior_unseen = h[qcounts == 0].sum()
    beta = unseen / (1 - unseen) * qcounts.sum() / max(prior_unseen, 1e-12)
    query_p = qcounts + beta * h
    return Fit(
        dim=dim, vocab=real["vocab"], rate=counts / n_real, doc_nnz=docs.nnz_per_row(),
        doc_rows=docs, doc_g=doc_g, doc_q=doc_q, doc_w=doc_w, query_rows=queries,
        query_g=query_g, query_q=query_q, query_w=query_w, query_p=query_p / query_p.sum(),
        doc_min=float(docs.values.min()), query_min=float(queries.values.min()),
    )


# -- generation ----------------------------------------------------------------------------------
def _cycle_seeds(lo: int, hi: int, n_real: int, seed: int, stream: int) -> np.ndarray:
    """Row r -> a real row: one fresh permutation of the ``n_real`` real rows per cycle."""
    out = np.empty(hi - lo, dtype=np.int64)
    for c in range(lo // n_real, (hi - 1) // n_real + 1 if hi > lo else 0):
        perm = np.random.default_rng([seed, stream, c]).permutation(n_real)
        a, b = max(lo, c * n_real), min(hi, (c + 1) * n_real)
        out[a - lo : b - lo] = perm[a - c * n_real : b - c * n_real]
    return out


def _keep_rule(keep: float, slope: float, corr: float) -> tuple[float, float, float]:
    """(a, b, filler mean) so that a seed term with score g is kept with Phi(a + b g).

    With g ~ N(0, 1) the mean keep rate is ``Phi(a / sqrt(1 + b^2)) = keep``; kept scores then
    average ``b phi(Phi^-1(keep)) / (sqrt(1 + b^2) keep)``, and drawn terms are shifted down by
    as much, weighted, so that each term's weight distribution over a collection stays the fit.
    """
    if keep <= 0.0:
        return -np.inf, 0.0, 0.0
    q = float(ndtri(keep))
    root = math.sqrt(1 + slope * slope)
    kept_mean = slope * math.exp(-q * q / 2) / math.sqrt(2 * math.pi) / (root * keep)
    return root * q, slope, -keep * corr * kept_mean / (1 - keep)


def _rows(fit_: Fit, side: str, config: Config, lo: int, hi: int, *, rng_seed: int,
          cum: np.ndarray) -> SparseBatch:
    """Rows ``lo..hi`` of the document or query side as a SparseBatch."""
    doc = side == "docs"
    source = fit_.doc_rows if doc else fit_.query_rows
    template = _cycle_seeds(lo, hi, len(source), config.seed, 0 if doc else 1)
    lengths = source.nnz_per_row()[template]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    seeded = config.model == "seeded"
    keep = (config.rho if doc else config.query_keep) if seeded else 0.0
    slope = config.keep_slope if doc else config.query_keep_slope
    corr = config.weight_corr if doc else config.query_corr
    keep_a, keep_b, fill_mu = _keep_rule(keep, slope, corr)
    indices = np.empty(indptr[-1], dtype=np.int32)
    values = np.empty(indptr[-1], dtype=np.float32)
    short = _generate(
        np.arange(lo, hi, dtype=np.int64), template if seeded else np.full_like(template, -1),
        indptr, source.indptr, source.indices, fit_.doc_g if doc else fit_.query_g, keep_a,
        keep_b, corr, fill_mu, cum, fit_.doc_q if doc else fit_.query_q, GRID[0], GRID[1] - GRID[0],
        fit_.doc_w if doc else fit_.query_w, ZGRID[0], ZGRID[1] - ZGRID[0],
        fit_.doc_min if doc else fit_.query_min, rng_seed, indices, values, 16,
    )
    if short:
        raise RuntimeError(f"{short} postings could not be drawn: the sampler is too narrow")
    return SparseBatch(indptr, indices, values, fit_.dim)


def calibrate(fit_: Fit, config: Config) -> np.ndarray:
    """Cumulative document-term sampler whose generated document rates match ``fit_.rate``.

    Rejection sampling without replacement saturates frequent terms, so the sampling weights
    are not the rates: a few rounds of multiplicative updates on a calibration sample, each
    term's step scaled by the inverse of its inclusion elasticity (Newton-like for saturated
    terms); rare terms, whose counts are noisy, move with their rate bucket.
    """
    n = config.calibration_docs
    target, w = fit_.rate, fit_.rate.copy()
    buckets = _buckets(np.round(fit_.rate * len(fit_.doc_rows)).astype(np.int64))
    seeded_part = config.rho * target if config.model == "seeded" else np.zeros_like(target)
    for _ in range(config.calibration_rounds):
        cum = np.cumsum(w) / w.sum()
        sample = _rows(fit_, "docs", config, 0, n, rng_seed=config.seed + 7919, cum=cum)
        got = np.bincount(sample.indices, minlength=fit_.dim) / n
        obs, want = got * n, target * n
        ratio_b = np.bincount(buckets, want) / np.maximum(np.bincount(buckets, obs), 1e-9)
        rb = ratio_b[buckets]
        ratio = rb * (want + 20) / (obs * rb + 20)
        fill = np.clip((got - seeded_part) / np.maximum(1 - seeded_part, 1e-9), 1e-9, 0.999)
        x = -np.log1p(-fill)
        elastic = (1 - seeded_part) * x * np.exp(-x) / np.maximum(got, 1e-12)
        step = 1 / np.clip(np.where(got > 0, elastic, 1.0), 0.2, 1.0)
        w = np.where(target > 0, w * ratio**step, 0.0)
    return np.cumsum(w) / w.sum()


@contextmanager
def _npy_writer(path: Path, dtype, n: int):
    """A file with the ``.npy`` header of a 1-d ``(n,)`` array; the caller appends the data."""
    dtype = np.dtype(dtype)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                "shape": (n,)})
        data_start = f.tell()
        yield f
        if f.tell() - data_start != n * dtype.itemsize:
            raise RuntimeError(f"{path}: wrote {f.tell() - data_start} bytes, expected "
                               f"{n * dtype.itemsize}")


def collection_dir(n_docs: int, cache=None, config: Config = Config()) -> Path:
    return (cache_dir(cache) / "synthetic"
            / f"{config.model}-n{n_docs}-s{config.seed}-v{VERSION}")


def generate(n_docs: int, cache=None, config: Config = Config(), fit_: Fit | None = None,
             *, log=print) -> Path:
    """Generate (if absent) the ``n_docs`` collection; return its directory."""
    target = collection_dir(n_docs, cache, config)
    if (target / "meta.json").is_file():
        return target
    start = time.perf_counter()
    fit_ = fit_ or fit(load_real(cache))
    if fit_.filler is None:
        fit_.filler = calibrate(fit_, config)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    template = _cycle_seeds(0, n_docs, len(fit_.doc_rows), config.seed, 0)
    indptr = np.concatenate([[0], np.cumsum(fit_.doc_nnz[template])]).astype(np.int64)
    del template
    np.save(tmp / "indptr.npy", indptr)
    nnz = int(indptr[-1])
    # Appending to files (not writing through a memory map) keeps the resident set at one
    # chunk: pages of a mapped file count as this process's memory until written back.
    with _npy_writer(tmp / "indices.npy", np.int32, nnz) as indices, \
            _npy_writer(tmp / "values.npy", np.float32, nnz) as values:
        for lo in range(0, n_docs, CHUNK):
            hi = min(n_docs, lo + CHUNK)
            chunk = _rows(fit_, "docs", config, lo, hi, rng_seed=config.seed, cum=fit_.filler)
            chunk.indices.tofile(indices)
            chunk.values.tofile(values)
            log(f"  {hi:>9,} / {n_docs:,} documents  {time.perf_counter() - start:6.1f} s")
    queries = make_queries(fit_, config)
    np.savez(tmp / "queries.npz", indptr=queries.indptr, indices=queries.indices,
             values=queries.values, dim=np.int64(fit_.dim), vocab=fit_.vocab)
    seconds = time.perf_counter() - start
    meta = {"version": VERSION, "n_docs": n_docs, "nnz": nnz, "dim": fit_.dim,
            "n_queries": len(queries), "config": asdict(config), "seconds": seconds}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if target.exists():             # another process finished first
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, target)
    log(f"{target}: {n_docs:,} docs, {nnz:,} postings, {seconds:.1f} s")
    return target


def make_queries(fit_: Fit, config: Config) -> SparseBatch:
    cum = np.cumsum(fit_.query_p)
    cum /= cum[-1]
    return _rows(fit_, "queries", config, 0, config.n_queries, rng_seed=config.seed + 1, cum=cum)


def _mapped_batch(indptr, indices, values, dim: int) -> SparseBatch:
    """A SparseBatch over memory-mapped arrays without ``SparseBatch``'s full scan.

    The scan (finite values, id range) reads every page: 7.6 s and ~9 GB of resident file
    pages at 4M documents, which would also inflate a benchmark worker's peak RSS. Every chunk
    passed those checks as a SparseBatch when it was generated; here only the cheap structural
    ones are repeated.
    """
    n = indptr[-1]
    if (indptr.dtype != np.int64 or indices.dtype != np.int32 or values.dtype != np.float32
            or indptr[0] != 0 or indices.shape != (n,) or values.shape != (n,)):
        raise RuntimeError("corrupt synthetic collection: delete its folder and regenerate")
    batch = object.__new__(SparseBatch)
    for name, value in (("indptr", indptr), ("indices", indices), ("values", values),
                        ("dim", dim)):
        object.__setattr__(batch, name, value)
    return batch


def load_synthetic(n_docs: int, cache=None, *, config: Config = Config(),
                   create: bool = True, verify: bool = False) -> dict:
    """A synthetic collection of ``n_docs`` documents, generated on first use.

    Returns ``dict(docs=SparseBatch over memory-mapped int64 indptr / int32 indices / float32
    values, queries=SparseBatch (config.n_queries rows), vocab=str array (dim,), meta=dict,
    path=Path)``. Term ids are the splade-tiny (BERT uncased) vocabulary ids. Loading maps the
    files and reads nothing else (``verify=True`` runs SparseBatch's full checks).
    """
    path = collection_dir(n_docs, cache, config)
    if not (path / "meta.json").is_file():
        if not create:
            raise FileNotFoundError(f"{path} does not exist: run scripts/synthetic.py --docs "
                                    f"{n_docs}")
        generate(n_docs, cache, config, log=lambda msg: print(msg, file=sys.stderr))
    arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r")
              for name in ("indptr", "indices", "values")}
    meta = json.loads((path / "meta.json").read_text())
    with np.load(path / "queries.npz") as q:
        queries = SparseBatch(q["indptr"], q["indices"], q["values"], int(q["dim"]))
        vocab = q["vocab"]
    make = SparseBatch if verify else _mapped_batch
    return {"docs": make(arrays["indptr"], arrays["indices"], arrays["values"], meta["dim"]),
            "queries": queries, "vocab": vocab, "meta": meta, "path": path}


# -- validation ----------------------------------------------------------------------------------
def validate(cache=None, sizes=(100_000,), models=("seeded", "independent"), seed: int = 0,
             n_queries: int = 1000, log=print) -> dict:
    """Real vs synthetic statistics (``collection_stats``) at SciFact's size and ``sizes``.

    Brute force over N documents scores ``min(n_queries, 2e8 / N)`` queries (200 at 1M).
    """
    real = load_real(cache)
    fit_ = fit(real)
    n_real = len(real["docs"])
    columns = {"real SciFact": collection_stats(real["docs"], real["queries"]),
               "real, IF queries": collection_stats(real["docs"], real["if_queries"])}
    for model in models:
        config = Config(model=model, seed=seed, n_queries=n_queries)
        fit_.filler = calibrate(fit_, config)
        queries = make_queries(fit_, config)
        sample = _rows(fit_, "docs", config, 0, n_real, rng_seed=seed, cum=fit_.filler)
        columns[f"{model} {n_real}"] = stats = collection_stats(sample, queries)
        got = np.bincount(sample.indices, minlength=fit_.dim) / n_real
        for n in sizes:
            generate(n, cache, config, fit_, log=log)
            data = load_synthetic(n, cache, config=config)
            queries = data["queries"][: max(1, min(n_queries, int(2e8 // n)))]
            stats = collection_stats(data["docs"], queries, batch=max(1, int(1e7 // n)))
            columns[f"{model} {n // 1000}k"] = stats
            got = np.bincount(data["docs"].indices, minlength=fit_.dim) / n
        frequent = fit_.rate >= 0.01
        err = np.abs(got[frequent] / fit_.rate[frequent] - 1)
        stats["df rate error p50 (rate>=1%)"] = float(np.median(err))
        stats["df rate error p99 (rate>=1%)"] = float(np.percentile(err, 99))
    return columns


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir())


def main(argv: list[str] | None = None) -> int:
    import resource

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--model", choices=["seeded", "independent"], default="seeded")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--no-validate", action="store_true",
                        help="skip the fit-validation table (real vs synthetic)")
    parser.add_argument("--validate-sizes", type=int, nargs="*", default=[100_000],
                        help="synthetic sizes in the validation table besides SciFact's 5,183")
    args = parser.parse_args(argv)
    config = Config(model=args.model, seed=args.seed, n_queries=args.queries)
    start = time.perf_counter()
    fit_ = fit(load_real(args.cache))
    fit_.filler = calibrate(fit_, config)
    print(f"fit + calibration: {time.perf_counter() - start:.1f} s")
    for n in args.docs:
        path = generate(n, args.cache, config, fit_)
        meta = json.loads((path / "meta.json").read_text())
        print(f"{path}: {meta['nnz']:,} postings, {_size(path) / 2**30:.2f} GiB on disk, "
              f"generated in {meta['seconds']:.1f} s")
    if not args.no_validate:
        columns = validate(args.cache, sizes=args.validate_sizes, seed=args.seed,
                           n_queries=args.queries)
        print_table(columns)
        sizes = "-".join(map(str, args.validate_sizes)) or "sample"
        out = (cache_dir(args.cache) / "synthetic"
               / f"validation-s{args.seed}-v{VERSION}-{sizes}.json")
        out.write_text(json.dumps(columns, indent=1, default=float))
        print(f"validation table written to {out}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS {rss:.2f} GiB, total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
