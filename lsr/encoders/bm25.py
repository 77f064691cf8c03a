"""BM25 as a sparse encoder: documents carry the BM25 weights, queries carry term counts.

With document weights

    w(t, d) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
    idf(t)  = ln(1 + (N - df + 0.5) / (df + 0.5))            (Lucene's BM25 idf, never negative)

and query weights ``q(t) = count of t in the query``, the dot product ``q . w`` is Lucene's BM25
score (Robertson et al., "Okapi at TREC-3", 1994; Lucene ``BM25Similarity``). Lucene 8+ drops
the constant ``(k1 + 1)`` factor; that scales every score by the same number, so rankings are
identical. Summing duplicated query terms is what Anserini's bag-of-words query generator does.

``N`` is the number of fitted documents with at least one term and ``avgdl`` their mean length
in terms (after stopwords), as Lucene's ``docCount`` and ``sumTotalTermFreq / docCount``. By
default document lengths ``dl`` are exact; Lucene stores them lossily in one byte (exact below 24,
then 4 significant bits), and ``lucene_norms=True`` applies the same rounding. With it, brute-force
search on BEIR SciFact reproduces Anserini's published BM25 flat figures (nDCG@10 0.6789,
R@100 0.9253); exact lengths give 0.6777 / 0.9253.

The defaults ``k1=0.9, b=0.4`` are Anserini's/Pyserini's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lsr._progress import progress
from lsr.encoders.analyzer import Analyzer, StopwordsOption
from lsr.encoders.base import SparseEncoder, write_json
from lsr.errors import IndexFormatError, InputError
from lsr.sparse import SparseBatch

logger = logging.getLogger(__name__)

#: File names written by ``save_query_side`` (inside an index's ``encoder/`` folder).
VOCAB_FILE = "bm25_vocab.json"
DF_FILE = "bm25_df.npy"
STATS_FILE = "bm25.json"
STATE_FORMAT_VERSION = 1

_DEFAULT_BATCH = 2048


class BM25Encoder(SparseEncoder):
    """BM25 over a vocabulary built by ``fit``.

    The vocabulary is the sorted set of terms of the fitted corpus, so term ids do not depend on
    document order. Terms never seen in ``fit`` are dropped from documents and queries (they
    would have df = 0 and match nothing in the index anyway).

    k1: term-frequency saturation (>= 0); b: length normalisation in [0, 1].
    stopwords, stemmer: analyzer options, see ``lsr.encoders.analyzer.Analyzer``.
    lucene_norms: round document lengths the way Lucene's one-byte norms do (see module doc).
    """

    kind = "bm25"
    query_needs_model = False

    def __init__(
        self, *, k1: float = 0.9, b: float = 0.4, stopwords: StopwordsOption = "lucene",
        stemmer: str | None = "porter", lucene_norms: bool = False,
        batch_size: int = _DEFAULT_BATCH,
    ) -> None:
        k1, b = _as_float("k1", k1), _as_float("b", b)
        if k1 < 0:
            raise InputError(f"k1 must be >= 0, got {k1}")
        if not 0 <= b <= 1:
            raise InputError(f"b must lie in [0, 1], got {b}")
        if int(batch_size) < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.k1, self.b = k1, b
        if not isinstance(lucene_norms, bool):
            raise InputError(f"lucene_norms must be True or False, got {lucene_norms!r}")
        self.lucene_norms = lucene_norms
        self.batch_size = int(batch_size)
        self.analyzer = Analyzer(stopwords=stopwords, stemmer=stemmer)
        self._vocab: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._df: np.ndarray | None = None  # int64 (dim,)
        self._idf: np.ndarray | None = None  # float64 (dim,)
        self.num_docs = 0
        self.avgdl = 0.0

    # -- contract -----------------------------------------------------------------------------
    @property
    def needs_fit(self) -> bool:
        """True until ``fit`` (or ``load_query_side``) has given corpus statistics."""
        return self._df is None

    @property
    def vocab(self) -> list[str]:
        self._check_fitted()
        return self._vocab

    @property
    def df(self) -> np.ndarray:
        """int64 ``(dim,)``: number of fitted documents containing each term."""
        self._check_fitted()
        return self._df

    @property
    def idf(self) -> np.ndarray:
        """float64 ``(dim,)``: Lucene's ``ln(1 + (N - df + 0.5) / (df + 0.5))``."""
        self._check_fitted()
        return self._idf

    def config(self) -> dict:
        return {"kind": self.kind, "k1": self.k1, "b": self.b, "lucene_norms": self.lucene_norms,
                **self.analyzer.config()}

    def fit(self, texts: Iterable[str], *, show_progress: bool | None = None) -> BM25Encoder:
        """Collect the vocabulary, document frequencies, ``N`` and ``avgdl`` from a corpus.

        ``texts`` is read once, so a generator works. Returns ``self``.
        """
        df: dict[str, int] = {}
        num_docs = total_len = 0
        analyze = self.analyzer.analyze
        total = len(texts) if isinstance(texts, Sequence) else None
        for text in progress(texts, total=total, desc="BM25 fit", unit="doc", show=show_progress):
            terms = analyze(text)
            if not terms:
                continue
            num_docs += 1
            total_len += len(terms)
            for term in set(terms):
                df[term] = df.get(term, 0) + 1
        if num_docs == 0:
            raise InputError(
                "BM25 fit found no terms: the corpus is empty or every document is empty "
                "after tokenization and stopword removal"
            )
        vocab = sorted(df)
        self._set_state(vocab, np.array([df[t] for t in vocab], dtype=np.int64),
                        num_docs, total_len / num_docs)
        logger.info("BM25 fitted on %d documents: %d terms, avgdl %.2f",
                    num_docs, len(vocab), self.avgdl)
        return self

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """BM25 document weights: float32 CSR rows over ``vocab``, one per text.

        The document length counts all of the text's terms, including those unseen in ``fit``.
        """
        self._check_fitted()
        idf, k1, b, avgdl = self._idf, self.k1, self.b, self.avgdl
        lucene_norms = self.lucene_norms

        def weigh(tf: np.ndarray, term_ids: np.ndarray, dl: np.ndarray) -> np.ndarray:
            if lucene_norms:
                dl = lucene_length(dl)
            norm = k1 * (1.0 - b + b * dl / avgdl)
            return idf[term_ids] * tf * (k1 + 1.0) / (tf + norm)

        return self._encode(texts, weigh, batch_size, show_progress, "BM25 documents")

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """Query term counts (float32) over ``vocab``; unknown terms are dropped."""
        self._check_fitted()
        return self._encode(texts, lambda tf, _ids, _dl: tf, batch_size, show_progress,
                            "BM25 queries")

    # -- persistence --------------------------------------------------------------------------
    def save_query_side(self, directory: Path) -> None:
        """Write the vocabulary, document frequencies and ``N``/``avgdl`` into ``directory``.

        Small (a few MB for millions of terms) and enough to rebuild a fully working encoder,
        documents included, with ``load_query_side``.
        """
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / VOCAB_FILE, self._vocab)
        np.save(directory / DF_FILE, self._df, allow_pickle=False)
        write_json(directory / STATS_FILE, {
            "format_version": STATE_FORMAT_VERSION, "num_docs": self.num_docs,
            "avgdl": self.avgdl, "dim": len(self._vocab), "config": self.config(),
        })

    @classmethod
    def load_query_side(cls, directory: Path, config: dict | None = None) -> BM25Encoder:
        """Rebuild the encoder saved by ``save_query_side``; ``config`` is the index's record.

        Raises ``IndexFormatError`` when files are missing or disagree with ``config``.
        """
        directory = Path(directory)
        missing = [n for n in (VOCAB_FILE, DF_FILE, STATS_FILE) if not (directory / n).is_file()]
        if missing:
            raise IndexFormatError(
                f"BM25 encoder files {missing} are missing from {directory}; rebuild the index"
            )
        try:
            stats = json.loads((directory / STATS_FILE).read_text(encoding="utf-8"))
            vocab = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
            df = np.load(directory / DF_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read BM25 encoder files in {directory}: {exc}") from exc
        version = stats.get("format_version")
        if version != STATE_FORMAT_VERSION:
            raise IndexFormatError(
                f"BM25 encoder files in {directory} have format_version {version!r}; this lsr "
                f"reads version {STATE_FORMAT_VERSION}: rebuild the index with this version"
            )
        saved = dict(stats.get("config") or {})
        if config is not None:
            given = {k: v for k, v in config.items() if k in saved}
            if given != {k: saved[k] for k in given}:
                raise IndexFormatError(
                    f"BM25 encoder config {given} in the manifest disagrees with {saved} saved "
                    f"in {directory}; the index is inconsistent, rebuild it"
                )
        saved.pop("kind", None)
        if not isinstance(vocab, list) or df.shape != (len(vocab),) or df.dtype.kind not in "iu":
            raise IndexFormatError(
                f"BM25 vocabulary ({len(vocab)} terms) and df array {df.shape} in {directory} "
                "do not match; rebuild the index"
            )
        encoder = cls(**saved)
        encoder._set_state(vocab, df.astype(np.int64), int(stats["num_docs"]),
                           float(stats["avgdl"]))
        return encoder

    # -- internals ----------------------------------------------------------------------------
    def _set_state(self, vocab: list[str], df: np.ndarray, num_docs: int, avgdl: float) -> None:
        self._vocab = vocab
        self._term_ids = {t: i for i, t in enumerate(vocab)}
        self._df = df
        self.num_docs, self.avgdl = num_docs, avgdl
        self._idf = np.log1p((num_docs - df + 0.5) / (df + 0.5))

    def _check_fitted(self) -> None:
        if self._df is None:
            raise InputError(
                "this BM25Encoder has no corpus statistics yet: call fit(corpus_texts) first "
                "(or load one with BM25Encoder.load_query_side)"
            )

    def _encode(self, texts, weigh, batch_size, show_progress, desc) -> SparseBatch:
        if isinstance(texts, str):
            raise InputError("expected a sequence of texts, got a single string; wrap it in a "
                             "list")
        texts = list(texts)
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        starts = range(0, len(texts), size)
        parts = [
            self._encode_batch(texts[s : s + size], weigh)
            for s in progress(starts, total=len(starts), desc=desc, unit="batch",
                              show=show_progress)
        ]
        if not parts:
            return SparseBatch(np.zeros(1, np.int64), np.zeros(0, np.int32),
                               np.zeros(0, np.float32), max(len(self._vocab), 1))
        return parts[0] if len(parts) == 1 else SparseBatch.concat(parts)

    def _encode_batch(self, texts: list[str], weigh) -> SparseBatch:
        """Analyze, map terms to ids and count them with one sort over the whole batch."""
        analyze, get = self.analyzer.analyze, self._term_ids.get
        dim = len(self._vocab)
        lengths = np.empty(len(texts), dtype=np.float64)
        ids: list[int] = []
        rows: list[int] = []
        for row, text in enumerate(texts):
            terms = analyze(text)
            lengths[row] = len(terms)
            known = [i for i in map(get, terms) if i is not None]
            ids.extend(known)
            rows.extend([row] * len(known))
        keys = np.asarray(rows, dtype=np.int64) * dim + np.asarray(ids, dtype=np.int64)
        uniq, tf = np.unique(keys, return_counts=True)  # sorted: by row, then term id
        row_of, term_ids = np.divmod(uniq, dim)
        values = weigh(tf.astype(np.float64), term_ids, lengths[row_of])
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of, minlength=len(texts)), out=indptr[1:])
        return SparseBatch(indptr, term_ids, values.astype(np.float32), dim)


def lucene_length(lengths: np.ndarray) -> np.ndarray:
    """Document lengths as Lucene's BM25 decodes its one-byte norms (``SmallFloat.intToByte4``).

    Lengths below 24 are exact; above, ``length - 24`` keeps its 4 most significant bits
    (rounded down). float64 in, float64 out, same shape.
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    excess = np.maximum(lengths - 24.0, 0.0)
    _, bits = np.frexp(excess)  # bit length of each (integral) excess
    step = np.exp2(np.maximum(bits - 4, 0))
    rounded = 24.0 + np.floor(excess / step) * step
    return np.where(lengths < 24, lengths, rounded)


def _as_float(name: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a number, got {value!r}") from exc
