"""Approximate search structures of a ``SparseIndex`` (the Seismic family).

``ApproxConfig`` holds the build knobs; ``build_approx_arrays`` derives every array from the
exact index's posting lists, so approximate search can be added to an existing index:

- a forward index (per document: term ids and quantized impacts) for exact re-scoring;
- per term, the ``n_postings`` highest-impact postings (static pruning), clustered into
  blocks of ``block_size`` similar documents;
- per block, a summary: the per-term maximum impact over its documents, keeping the largest
  entries that hold ``summary_energy`` of the summary's mass.

Search visits the ``query_cut`` heaviest query terms; a block is scored document by document
only when ``summary . query x heap_factor`` exceeds the current k-th score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lsr.errors import InputError

APPROX_ARRAYS = (
    "fwd_indptr", "fwd_terms", "fwd_impacts", "ap_term_blocks", "ap_block_docs_offsets",
    "ap_block_docs", "ap_summary_offsets", "ap_summary_terms", "ap_summary_impacts",
)


@dataclass(frozen=True)
class ApproxConfig:
    """Build knobs of the approximate structures.

    n_postings: postings kept per term (static pruning). Seismic keeps a few thousand on
        MS MARCO; more costs memory and build time, fewer costs accuracy.
    block_size: documents per block. Smaller blocks have tighter summaries but more of them
        to score per query; 16 matches Seismic's ~10 documents per cluster on average.
    summary_energy: fraction of a block summary's mass kept (Seismic's alpha, 0.4 there).
    summary_terms: at most this many entries per summary. Documents with ~250 non-zeros give
        blocks whose union has thousands of terms: without a cap the summaries outgrow the
        collection and their dot products dominate search time.
    signature_dims: random-projection size used to order similar documents next to each other.
    seed: makes the projection and the PCA tree deterministic.
    """

    n_postings: int = 2000
    block_size: int = 16
    summary_energy: float = 0.4
    summary_terms: int = 4096
    signature_dims: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_postings, self.block_size, self.signature_dims, self.summary_terms) < 1:
            raise InputError(
                f"n_postings, block_size, summary_terms, signature_dims must be >= 1: {self}")
        if not 0 < self.summary_energy <= 1:
            raise InputError(f"summary_energy must be in (0, 1], got {self.summary_energy}")

    def to_json(self) -> dict:
        return asdict(self)


def build_approx_arrays(term_offsets: np.ndarray, post_docs: np.ndarray,
                        post_impacts: np.ndarray, doc_nnz: np.ndarray,
                        config: ApproxConfig) -> dict[str, np.ndarray]:
    """Every array approximate search needs, from the exact index's posting lists."""
    from lsr.index._approx import (
        build_blocks_and_summaries,
        forward_from_postings,
        signatures,
    )

    n_terms = term_offsets.size - 1
    fwd_indptr = np.zeros(doc_nnz.size + 1, dtype=np.int64)
    np.cumsum(doc_nnz, out=fwd_indptr[1:])
    # 16-bit term ids cover BERT-sized vocabularies (30,522): 3 bytes per forward posting.
    fwd_terms = np.empty(fwd_indptr[-1], dtype=np.uint16 if n_terms <= 65536 else np.uint32)
    fwd_impacts = np.empty(fwd_indptr[-1], dtype=post_impacts.dtype)
    forward_from_postings(term_offsets, post_docs, post_impacts, fwd_indptr, fwd_terms,
                          fwd_impacts)
    rng = np.random.default_rng(config.seed)
    projection = rng.standard_normal((n_terms, config.signature_dims)).astype(np.float32)
    sig = signatures(fwd_indptr, fwd_terms, fwd_impacts, projection)
    (term_blocks, block_docs_offsets, block_docs, summary_offsets, summary_terms,
     summary_impacts) = build_blocks_and_summaries(
        term_offsets, post_docs, post_impacts, sig, config.n_postings, config.block_size,
        fwd_indptr, fwd_terms, fwd_impacts, config.summary_energy, config.summary_terms)
    del sig
    return {
        "fwd_indptr": fwd_indptr, "fwd_terms": fwd_terms, "fwd_impacts": fwd_impacts,
        "ap_term_blocks": term_blocks, "ap_block_docs_offsets": block_docs_offsets,
        "ap_block_docs": block_docs, "ap_summary_offsets": summary_offsets,
        "ap_summary_terms": summary_terms, "ap_summary_impacts": summary_impacts,
    }
