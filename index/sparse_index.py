"""``SparseIndex``: an impact-quantized inverted index over learned sparse vectors.

Layout (format ``lsr-sparse-index`` v1): per term ``t`` the documents containing it are
``post_docs[term_offsets[t]:term_offsets[t + 1]]`` (int32, increasing) with quantized impacts in
``post_impacts`` (uint8 or uint16). Document ids and titles are string tables.

Quantization: ``impact = round(w / scale)`` with ``scale = max_w / (2**bits - 1)`` over the whole
collection; postings whose impact rounds to 0 are dropped. Each stored weight is off by at most
``scale / 2``, so a query's score for a document is off by at most
``scale / 2 * sum(|q_t|)`` over the terms they share. Search is exact over the quantized weights:
it returns precisely what brute force over the dequantized matrix returns (ties broken by lower
document number). 8 bits is the default, as in PISA and Anserini impact indexes.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np

from lsr.encoders.base import SparseEncoder
from lsr.errors import IndexFormatError, InputError, VocabularyMismatchError
from lsr.index.approx import APPROX_ARRAYS, ApproxConfig, build_approx_arrays
from lsr.index.builder import (
    BLOCK_SIZE,
    ENCODER_DIR,
    FORMAT,
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    SparseIndexBuilder,
    _approx_config,
)
from lsr.index.strings import StringTable
from lsr.manifest import load_arrays, read_manifest, write_index_dir
from lsr.results import SearchResult, check_k
from lsr.sparse import SparseBatch

logger = logging.getLogger(__name__)

QUERY_LEVELS = (1 << 20) - 1  # query weights become integers in [0, 2**20): ~5e-7 relative error
Algorithm = Literal["auto", "exhaustive", "maxscore", "blockmax"]
REBUILD = "rebuild the index with `lsr index` (or SparseIndex.build)"


@contextmanager
def _numba_threads(n: int):
    """Run a parallel kernel on ``n`` Numba threads, restoring the previous setting."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def quantize_queries(queries: SparseBatch) -> tuple[np.ndarray, np.ndarray]:
    """Integer query weights: ``(weights int64 (nnz,), scale float64 (n,))``.

    Each row is divided by the power of two that brings its largest |weight| to at most
    ``QUERY_LEVELS``; a weight's rounding error is at most ``scale / 2`` (relative 1e-6 of the
    row maximum). Integer weights make
    scores exact sums, identical whatever order an algorithm adds them in.
    """
    n = len(queries)
    scale = np.ones(n, dtype=np.float64)
    values = np.abs(queries.values.astype(np.float64))
    nnz = queries.nnz_per_row()
    rows = np.flatnonzero(nnz)
    if rows.size:
        top = np.maximum.reduceat(values, queries.indptr[rows])
        # A power-of-two scale divides exactly: integer-valued weights stay exact integers,
        # so ties between documents survive quantization.
        with np.errstate(divide="ignore"):
            scale[rows] = np.where(top > 0, np.exp2(np.ceil(np.log2(top / QUERY_LEVELS))), 1.0)
    per_value = np.repeat(scale, nnz)
    weights = np.rint(queries.values / per_value).astype(np.int64)
    return weights, scale


class SparseIndex:
    """An inverted index over sparse document vectors; exact top-k search.

    Build with ``SparseIndex.build`` (in memory) or ``SparseIndexBuilder`` (streaming, on
    disk); open with ``SparseIndex.load`` (memory-mapped).
    """

    def __init__(self, arrays: dict[str, np.ndarray], manifest: dict, *,
                 encoder_files: dict[str, bytes], path: Path | None = None):
        self._arrays = arrays
        self.manifest = manifest
        self.path = path
        self._encoder_files = encoder_files
        self.term_offsets = arrays["term_offsets"]
        self.post_docs = arrays["post_docs"]
        self.post_impacts = arrays["post_impacts"]
        self.term_max = arrays["term_max"]
        self.doc_nnz = arrays["doc_nnz"]
        self.doc_ids = StringTable(arrays["doc_ids.data"], arrays["doc_ids.offsets"])
        self.titles = (
            StringTable(arrays["titles.data"], arrays["titles.offsets"])
            if "titles.data" in arrays else None
        )
        self._query_encoder = None
        self._local = threading.local()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, docs: SparseBatch, ids: Sequence[str], *,
              titles: Sequence[str] | None = None, encoder: SparseEncoder | None = None,
              bits: int = 8, chunk_size: int = 65536, approx: ApproxConfig | bool | None = None,
              path: str | Path | None = None, overwrite: bool = False) -> SparseIndex:
        """Build an index from ``docs`` (one external id per row).

        In memory by default; with ``path`` it is written there and opened memory-mapped.
        ``approx`` (an ``ApproxConfig`` or True for the defaults) adds the structures of
        approximate search.
        """
        def write(target: Path) -> Path:
            with SparseIndexBuilder(target, dim=docs.dim, bits=bits, encoder=encoder,
                                    overwrite=overwrite, approx=approx) as builder:
                for start in range(0, max(len(docs), 1), chunk_size):
                    stop = start + chunk_size
                    builder.add(docs[start:stop], ids[start:stop],
                                None if titles is None else titles[start:stop])
                return builder.finish()

        if path is not None:
            return cls.load(write(Path(path)), verify=False)
        with tempfile.TemporaryDirectory(prefix="lsr-build-") as tmp:
            return cls.load(write(Path(tmp) / "index"), mmap=False, verify=False)

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True, verify: bool = True) -> SparseIndex:
        """Open an index directory; arrays are memory-mapped unless ``mmap=False``.

        ``verify`` checks every file's sha256 against the manifest (reads each file once).
        """
        path = Path(path)
        manifest = read_manifest(path, expected_format=FORMAT,
                                 supported_versions=SUPPORTED_VERSIONS, rebuild_hint=REBUILD)
        arrays = load_arrays(path, manifest, verify=verify, mmap=mmap, rebuild_hint=REBUILD)
        required = ("term_offsets", "post_docs", "post_impacts", "term_max", "doc_nnz",
                    "doc_ids.data", "doc_ids.offsets")
        missing = [name for name in required if name not in arrays]
        if missing:
            raise IndexFormatError(f"{path} lacks arrays {missing}; {REBUILD}")
        n_docs, dim = manifest["num_docs"], manifest["dim"]
        if (arrays["term_offsets"].shape != (dim + 1,)
                or arrays["doc_ids.offsets"].shape != (n_docs + 1,)
                or arrays["post_docs"].shape != (manifest["num_postings"],)):
            raise IndexFormatError(f"{path}: array shapes disagree with the manifest; {REBUILD}")
        encoder_files = {}
        encoder_dir = path / ENCODER_DIR
        if encoder_dir.is_dir():
            for file in sorted(encoder_dir.rglob("*")):
                if file.is_file():
                    encoder_files[file.relative_to(encoder_dir).as_posix()] = file.read_bytes()
        return cls(arrays, manifest, encoder_files=encoder_files, path=path)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the index to a directory atomically (temp dir + rename), in the current format."""
        self._blocks()
        files = {f"{ENCODER_DIR}/{rel}": data for rel, data in self._encoder_files.items()}
        manifest = {**self.manifest, "format_version": FORMAT_VERSION}
        self.path = write_index_dir(path, self._arrays, manifest, files=files,
                                    overwrite=overwrite)
        return self.path

    # -- properties ---------------------------------------------------------------------------
    @property
    def num_docs(self) -> int:
        return int(self.manifest["num_docs"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def num_postings(self) -> int:
        return int(self.manifest["num_postings"])

    @property
    def scale(self) -> float:
        return float(self.manifest["quantization"]["scale"])

    @property
    def encoder_config(self) -> dict | None:
        return self.manifest.get("encoder")

    @property
    def has_approx(self) -> bool:
        return all(name in self._arrays for name in APPROX_ARRAYS)

    def add_approx(self, config: ApproxConfig | bool = True) -> SparseIndex:
        """Build the approximate-search structures in memory (``save`` persists them)."""
        config = _approx_config(config)
        if config is None:
            raise InputError("add_approx needs an ApproxConfig or True")
        self._arrays.update(build_approx_arrays(self.term_offsets, self.post_docs,
                                                self.post_impacts, self.doc_nnz, config))
        self.manifest["approx"] = config.to_json()
        return self

    def approx_nbytes(self) -> int:
        """Bytes of the approximate structures alone (forward index, blocks, summaries)."""
        return int(sum(np.asarray(self._arrays[n]).nbytes for n in APPROX_ARRAYS
                       if n in self._arrays))

    @property
    def nbytes(self) -> int:
        """Bytes of all arrays (what the index occupies on disk, less the manifest)."""
        return int(sum(np.asarray(a).nbytes for a in self._arrays.values()))

    def __len__(self) -> int:
        return self.num_docs

    def __repr__(self) -> str:
        kind = (self.encoder_config or {}).get("kind", "unknown")
        return (f"SparseIndex(docs={self.num_docs}, postings={self.num_postings}, "
                f"dim={self.dim}, encoder={kind!r}, path={self.path})")

    # -- encoders -----------------------------------------------------------------------------
    def check_encoder(self, encoder: SparseEncoder) -> None:
        """Raise ``VocabularyMismatchError`` unless ``encoder`` has the index's vocabulary."""
        expected = self.manifest.get("vocab_fingerprint")
        if encoder.dim != self.dim:
            raise VocabularyMismatchError(
                f"the encoder has {encoder.dim} terms but the index was built over {self.dim}; "
                "use the encoder the index was built with, or rebuild the index"
            )
        if expected is not None and encoder.vocab_fingerprint() != expected:
            raise VocabularyMismatchError(
                "the encoder's vocabulary differs from the one the index was built with "
                f"(index encoder: {self.encoder_config}); use that encoder or rebuild the index"
            )

    def query_encoder(self) -> SparseEncoder:
        """The query side of the encoder the index was built with (cached).

        BM25 and inference-free indexes carry their query encoder and need no model; other
        kinds reload the model named in the manifest.
        """
        if self._query_encoder is None:
            from lsr.encoders import load_query_encoder

            config = self.encoder_config
            if config is None:
                raise InputError(
                    "this index records no encoder; encode queries yourself and call search()"
                )
            if self.path is not None and (self.path / ENCODER_DIR).is_dir():
                encoder = load_query_encoder(self.path / ENCODER_DIR, config)
            else:
                with tempfile.TemporaryDirectory(prefix="lsr-encoder-") as tmp:
                    for rel, data in self._encoder_files.items():
                        (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                        (Path(tmp) / rel).write_bytes(data)
                    encoder = load_query_encoder(Path(tmp), config)
            self.check_encoder(encoder)
            self._query_encoder = encoder
        return self._query_encoder

    # -- search -------------------------------------------------------------------------------
    def _blocks(self):
        """Block-max arrays (stored since format v2; computed once for v1 indexes)."""
        if "block_offsets" not in self._arrays:
            from lsr.index._kernels import build_blocks

            offsets, maxima, last = build_blocks(self.term_offsets, self.post_docs,
                                                 self.post_impacts, BLOCK_SIZE)
            self._arrays.update(block_offsets=offsets, block_max=maxima, block_last=last)
            self.manifest["block_size"] = BLOCK_SIZE
        return (self._arrays["block_offsets"], self._arrays["block_max"],
                self._arrays["block_last"], int(self.manifest["block_size"]))

    def _choose(self, q_weights: np.ndarray, algorithm: Algorithm) -> Algorithm:
        if algorithm not in ("auto", "exhaustive", "maxscore", "blockmax"):
            raise InputError(
                f"algorithm must be auto, exhaustive, maxscore or blockmax, got {algorithm!r}")
        if algorithm != "exhaustive" and q_weights.size and q_weights.min() < 0:
            # Pruning bounds assume non-negative contributions.
            if algorithm != "auto":
                logger.warning("negative query weights: using exhaustive search")
            return "exhaustive"
        # Measured (scripts/bench_search.py): with SPLADE-like queries of 20-50 terms the
        # exhaustive layout beats MaxScore and block-max on every collection we have, from
        # 5k to 1M documents, so "auto" picks it; the pruning algorithms stay available.
        return "exhaustive" if algorithm == "auto" else algorithm

    def search(self, queries: SparseBatch, k: int = 10, *, threads: int | None = None,
               mode: Literal["exact", "approx"] = "exact", algorithm: Algorithm = "auto",
               query_cut: int = 10, heap_factor: float = 0.9) -> SearchResult:
        """Exact top-``k`` by dot product for every query row.

        ``algorithm``: ``exhaustive`` (term-at-a-time over every posting), ``maxscore``,
        ``blockmax`` (block-max MaxScore) or ``auto`` (currently exhaustive: fastest on
        every collection measured; negative query weights always use exhaustive). All return
        the same hits: scores are exact integer sums of quantized query weights (20 bits per
        query) times quantized impacts, ties go to the lower document number. Returns a
        ``SearchResult`` with (n, k) int64 indices and float32 scores (dequantized), best
        first; only documents scoring above zero are returned, the rest is ``-1`` padded.
        ``threads`` caps the Numba threads (default: all cores).

        ``mode="approx"`` searches the approximate structures (see ``lsr.index.approx``):
        only the ``query_cut`` heaviest query terms select blocks, and a block is scored when
        its summary bound times ``heap_factor`` beats the k-th score. Returned scores are exact
        for the returned documents; some true top-k documents may be missed.
        """
        k = check_k(k)
        if mode not in ("exact", "approx"):
            raise InputError(f"mode must be 'exact' or 'approx', got {mode!r}")
        if not isinstance(queries, SparseBatch):
            raise InputError(
                f"queries must be a SparseBatch, got {type(queries).__name__}; encode them with "
                "encoder.encode_queries(texts) or use search_text()"
            )
        if queries.dim != self.dim:
            raise VocabularyMismatchError(
                f"queries have dim {queries.dim} but the index was built over {self.dim} terms; "
                "encode them with the index's encoder"
            )
        if mode == "approx":
            return self._search_approx(queries, k, threads, query_cut, heap_factor)
        q_weights, q_scale = quantize_queries(queries)
        algorithm = self._choose(q_weights, algorithm)
        k_eff = min(k, self.num_docs)
        blocks = self._blocks_of_queries(threads, len(queries))
        out_idx = np.full((len(queries), k_eff), -1, dtype=np.int64)
        raw = np.zeros((len(queries), k_eff), dtype=np.int64)
        common = (queries.indptr, queries.indices, q_weights, self.term_offsets, self.post_docs,
                  self.post_impacts)
        if algorithm == "exhaustive":
            from lsr.index._kernels import exact_parallel, exact_range

            acc, seen, touched = self._scratch("exact", blocks, (
                (np.int64, self.num_docs), (np.uint8, self.num_docs),
                (np.int32, self.num_docs)))
            if blocks == 1:  # no parallel launch for one block: it costs more than a query
                exact_range(0, 1, *common, k_eff, acc[0], seen[0], touched[0], out_idx, raw)
            else:
                with _numba_threads(blocks):
                    exact_parallel(*common, k_eff, acc, seen, touched, out_idx, raw)
        else:
            from lsr.index._daat import daat_parallel, daat_range

            offsets, maxima, last, size = self._blocks()
            extra = (self.term_max, offsets, maxima, last, size, algorithm == "blockmax", k_eff)
            if blocks == 1:
                daat_range(0, 1, *common, *extra, out_idx, raw)
            else:
                with _numba_threads(blocks):
                    daat_parallel(*common, *extra, blocks, out_idx, raw)
        return self._result(out_idx, raw * (q_scale * self.scale)[:, None], k)

    def _search_approx(self, queries: SparseBatch, k: int, threads: int | None,
                       query_cut: int, heap_factor: float) -> SearchResult:
        from lsr.index._approx import approx_parallel, approx_range

        if not self.has_approx:
            raise InputError(
                "this index has no approximate structures: build it with approx=True "
                "(`lsr index --approx`) or call index.add_approx()")
        if not isinstance(query_cut, (int, np.integer)) or query_cut < 1:
            raise InputError(f"query_cut must be an integer >= 1, got {query_cut!r}")
        if not 0 < heap_factor <= 1:
            raise InputError(f"heap_factor must be in (0, 1], got {heap_factor}")
        a = self._arrays
        k_eff = min(k, self.num_docs)
        blocks = self._blocks_of_queries(threads, len(queries))
        out_idx = np.full((len(queries), k_eff), -1, dtype=np.int64)
        raw = np.zeros((len(queries), k_eff), dtype=np.float32)
        qdense, visited, touched = self._scratch("approx", blocks, (
            (np.float32, self.dim), (np.bool_, self.num_docs), (np.int32, self.num_docs)))
        args = (queries.indptr, queries.indices, queries.values, self.dim, int(query_cut),
                np.float32(heap_factor), k_eff, a["ap_term_blocks"],
                a["ap_block_docs_offsets"], a["ap_block_docs"], a["ap_summary_offsets"],
                a["ap_summary_terms"], a["ap_summary_impacts"], a["fwd_indptr"],
                a["fwd_terms"], a["fwd_impacts"])
        if blocks == 1:
            approx_range(0, 1, *args, qdense[0], visited[0], touched[0], out_idx, raw)
        else:
            with _numba_threads(blocks):
                approx_parallel(*args, qdense, visited, touched, out_idx, raw)
        return self._result(out_idx, raw * np.float32(self.scale), k)

    @staticmethod
    def _blocks_of_queries(threads: int | None, n_queries: int) -> int:
        import numba

        n_threads = numba.config.NUMBA_NUM_THREADS if threads is None else int(threads)
        if n_threads < 1:
            raise InputError(f"threads must be >= 1, got {threads}")
        return max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS, n_queries))

    def _scratch(self, kind: str, blocks: int, specs) -> list[np.ndarray]:
        """Zeroed per-thread scratch rows kept across calls (kernels leave them zeroed).

        Allocating an n_docs accumulator per query costs page faults that dominate latency on
        large collections. Buffers live in a thread-local cache, so concurrent Python threads
        searching one index never share them.
        """
        cache = self._local.__dict__.setdefault("scratch", {})
        arrays = cache.get(kind)
        if arrays is None or arrays[0].shape[0] < blocks:
            arrays = [np.zeros((blocks, n), dtype=dtype) for dtype, n in specs]
            cache[kind] = arrays
        return [a[:blocks] for a in arrays]

    def _result(self, idx: np.ndarray, scores: np.ndarray, k: int) -> SearchResult:
        scores = scores.astype(np.float32, copy=False)
        if idx.shape[1] < k:
            pad = k - idx.shape[1]
            idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, pad)))
        return SearchResult(idx, scores, self.doc_ids)

    def search_text(self, texts: Sequence[str] | str, k: int = 10, *,
                    threads: int | None = None) -> SearchResult:
        """Encode ``texts`` with the index's own query encoder and search."""
        if isinstance(texts, str):
            texts = [texts]
        return self.search(self.query_encoder().encode_queries(list(texts)), k, threads=threads)

    # -- introspection ------------------------------------------------------------------------
    def dequantized(self, *, raw: bool = False):
        """The stored document matrix as scipy CSR (n_docs, dim): the oracle's input.

        float32 weights, or with ``raw=True`` the integer impacts as float64 (exact, so ties
        in integer-weighted tests stay ties).
        """
        import scipy.sparse as sp

        terms = np.repeat(np.arange(self.dim, dtype=np.int32), np.diff(self.term_offsets))
        if raw:
            values = np.asarray(self.post_impacts, dtype=np.float64)
        else:
            values = np.asarray(self.post_impacts, dtype=np.float32) * np.float32(self.scale)
        return sp.csr_matrix((values, (np.asarray(self.post_docs), terms)),
                             shape=(self.num_docs, self.dim))

    def stats(self) -> dict:
        return {
            "num_docs": self.num_docs,
            "num_postings": self.num_postings,
            "avg_doc_nnz": float(np.mean(self.doc_nnz)) if self.num_docs else 0.0,
            "bytes": self.nbytes,
            "bytes_per_posting": self.nbytes / max(self.num_postings, 1),
            "bits": int(self.manifest["quantization"]["bits"]),
        }
