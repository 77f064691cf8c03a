"""Inference-free sparse retrieval: a neural document encoder, a weight table for queries.

Documents are encoded by a SPLADE-style masked LM; a query is the set of its tokens, each
weighted by a fixed per-token table (an IDF), so searching needs only a tokenizer. This is the
"doc-only" mode of OpenSearch's neural sparse search:

- Geng, Ru, et al. "Towards Competitive Search Relevance For Inference-Free Learned Sparse
  Retrievers." arXiv:2411.04403, 2024 (IDF-weighted queries, the opensearch-neural-sparse-
  encoding-doc-* models).

The query side (``TokenWeightQueryEncoder``) imports only the Rust ``tokenizers`` library and
NumPy, never torch or transformers, so a saved index can be searched without them.

Table conventions (OpenSearch's ``idf.json``: ``{token string: weight}``): tokens missing from the
file weigh 0, as in the OpenSearch model cards' ``get_tokenizer_idf``, which fills a zero vector
from the file. Queries are tokenized without special tokens; special tokens typed literally in a
query are dropped too (documents zero them, so they could never match).

OpenSearch's doc-v1 model uses ``log(1 + ReLU)``; the doc-v3 models use
``log(1 + log(1 + ReLU))``: pass ``activation="log1p_log1p_relu"`` for those (the activation is
not read from the model folder, which does not record it).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lsr._progress import progress
from lsr.encoders._hub import optional_file
from lsr.encoders._inputs import check_positive, check_texts
from lsr.encoders._vocab import vocab_in_id_order
from lsr.encoders.base import SparseEncoder, write_json
from lsr.errors import IndexFormatError, InputError, VocabularyMismatchError
from lsr.sparse import SparseBatch

logger = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
IDF_FILE = "idf.json"
_PLACEHOLDER = re.compile(r"\[lsr_unused_(\d+)\]")


# -- tokenizer helpers ---------------------------------------------------------------------------
def _rust_tokenizer(tokenizer):
    """A private ``tokenizers.Tokenizer`` copy without padding or truncation.

    Accepts a ``tokenizers.Tokenizer`` or a transformers fast tokenizer (its
    ``backend_tokenizer``). Copying leaves the caller's tokenizer settings untouched.
    """
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not isinstance(backend, Tokenizer):
        raise InputError(
            f"expected a tokenizers.Tokenizer or a transformers *fast* tokenizer, got "
            f"{type(tokenizer).__name__}; inference-free queries need the model's tokenizer.json"
        )
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


def _special_ids(tokenizer) -> np.ndarray:
    """int64 ids of the tokenizer's special added tokens ([CLS], [SEP], [PAD], ...)."""
    decoder = tokenizer.get_added_tokens_decoder()
    return np.array(sorted(i for i, tok in decoder.items() if tok.special), dtype=np.int64)


def _tokenizer_vocab(tokenizer, size: int | None = None) -> list[str]:
    return vocab_in_id_order(tokenizer.get_vocab(with_added_tokens=True), size)


# -- idf tables ----------------------------------------------------------------------------------
def compute_idf(
    tokenizer, texts: Sequence[str], *, batch_size: int = 1024, vocab_size: int | None = None,
    show_progress: bool | None = None,
) -> np.ndarray:
    """BM25-style IDF of every token id over a corpus: float32 ``(vocab_size,)``.

    ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))`` (Robertson-Sparck Jones with Lucene's +1, so
    never negative), ``df`` = number of texts containing the token when tokenized without
    special tokens, ``N = len(texts)``. Special tokens get 0. Tokens absent from the corpus get
    the largest value, ``ln(1 + (N + 0.5) / 0.5)``: a query term no document text contains is
    rare, and documents can still hold it through SPLADE expansion.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` or a transformers fast tokenizer;
    ``vocab_size`` defaults to the tokenizer's size (pass the model's when it is larger).
    """
    texts = check_texts(texts)
    check_positive("batch_size", batch_size)
    if not texts:
        raise InputError("compute_idf needs at least one text")
    tok = _rust_tokenizer(tokenizer)
    size = tok.get_vocab_size(with_added_tokens=True)
    vocab_size = size if vocab_size is None else vocab_size
    check_positive("vocab_size", vocab_size)
    df = np.zeros(vocab_size, dtype=np.int64)
    starts = range(0, len(texts), batch_size)
    for lo in progress(starts, total=len(starts), desc="idf", unit="batch", show=show_progress):
        encodings = tok.encode_batch(texts[lo : lo + batch_size], add_special_tokens=False)
        ids = [np.unique(np.asarray(e.ids, dtype=np.int64)) for e in encodings]
        ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        if ids.size and ids.max() >= vocab_size:
            raise InputError(
                f"the tokenizer produced id {int(ids.max())} >= vocab_size={vocab_size}"
            )
        df += np.bincount(ids, minlength=vocab_size)
    n = len(texts)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    special = _special_ids(tok)
    idf[special[special < vocab_size]] = 0.0
    return idf.astype(np.float32)


def save_idf_json(path: Path, vocab: Sequence[str], weights: np.ndarray) -> None:
    """Write an OpenSearch-style ``{token: weight}`` file, one entry per vocabulary id.

    Every id is written (zeros included) so that the vocabulary size survives a round trip
    even when it ends in ``[lsr_unused_N]`` placeholders.
    """
    weights = np.asarray(weights, dtype=np.float32)
    if weights.shape != (len(vocab),):
        raise InputError(f"weights must have shape ({len(vocab)},), got {weights.shape}")
    write_json(Path(path), dict(zip(vocab, weights.tolist())))


def _read_idf_json(path: Path) -> dict[str, float]:
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read idf table {str(path)!r}: {exc}") from exc
    if not isinstance(table, dict):
        raise InputError(f"{str(path)!r} must hold a JSON object {{token: weight}}")
    return table


def idf_from_mapping(table: Mapping[str, float], vocab: Sequence[str]) -> np.ndarray:
    """float32 ``(len(vocab),)`` weights from ``{token: weight}``; missing tokens weigh 0."""
    index = {token: i for i, token in enumerate(vocab)}
    weights = np.zeros(len(vocab), dtype=np.float32)
    unknown = 0
    for token, weight in table.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(
            weight
        ):
            raise InputError(f"weight of token {token!r} must be a finite number, got {weight!r}")
        i = index.get(token)
        if i is None:
            unknown += 1
        else:
            weights[i] = weight
    if table and unknown == len(table):
        raise InputError("no token of the idf table is in the vocabulary: wrong tokenizer?")
    if unknown:
        logger.warning("%d of %d idf tokens are not in the vocabulary; ignored", unknown,
                       len(table))
    return weights


def load_idf_json(path: Path, vocab: Sequence[str]) -> np.ndarray:
    """float32 ``(len(vocab),)`` weights from an OpenSearch ``idf.json``; missing tokens weigh 0."""
    return idf_from_mapping(_read_idf_json(path), vocab)


# -- query side ----------------------------------------------------------------------------------
class TokenWeightQueryEncoder(SparseEncoder):
    """Queries -> binary bag of tokens times a per-token weight table (no neural model).

    ``tokenizer`` is a ``tokenizers.Tokenizer``; ``weights`` float32 ``(vocab,)``, at least as
    long as the tokenizer's vocabulary. ``config`` is what ``config()`` returns (the full
    encoder's config when loaded from an index).
    """

    kind = "inference-free"
    query_needs_model = False

    def __init__(self, tokenizer, weights: np.ndarray, *, config: dict | None = None) -> None:
        weights = np.ascontiguousarray(weights, dtype=np.float32)
        if weights.ndim != 1 or weights.size == 0:
            raise InputError(f"weights must be a non-empty 1-d array, got shape {weights.shape}")
        if not np.all(np.isfinite(weights)):
            raise InputError("weights must be finite (found NaN or inf)")
        self._tokenizer = _rust_tokenizer(tokenizer)
        self._vocab = _tokenizer_vocab(self._tokenizer, weights.size)
        self.weights = weights
        self._special = _special_ids(self._tokenizer)
        # The table queries read: special tokens zeroed once here rather than filtered with
        # np.isin per query (query encoding is on the search path of inference-free indexes).
        self._query_table = weights.copy()
        special = self._special[self._special < weights.size]
        self._query_table[special] = 0
        self._config = dict(config) if config else {"kind": self.kind}
        self._config["kind"] = self.kind

    @classmethod
    def load(cls, directory: Path, config: dict | None = None) -> TokenWeightQueryEncoder:
        """Rebuild from ``tokenizer.json`` and ``idf.json`` written by :meth:`save_query_side`."""
        from tokenizers import Tokenizer

        directory = Path(directory)
        for name in (TOKENIZER_FILE, IDF_FILE):
            if not (directory / name).is_file():
                raise IndexFormatError(
                    f"{str(directory)!r} has no {name}: the index's query side is incomplete; "
                    "rebuild the index"
                )
        tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        table = _read_idf_json(directory / IDF_FILE)
        size = tokenizer.get_vocab_size(with_added_tokens=True)
        for token in table:
            match = _PLACEHOLDER.fullmatch(token)
            if match:
                size = max(size, int(match.group(1)) + 1)
        weights = idf_from_mapping(table, _tokenizer_vocab(tokenizer, size))
        return cls(tokenizer, weights, config=config)

    @property
    def vocab(self) -> list[str]:
        return self._vocab

    def config(self) -> dict:
        return dict(self._config)

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """Each query's distinct tokens, weighted by the table; zero weights are dropped.

        ``batch_size`` and ``show_progress`` are accepted for the common signature; encoding is
        a single tokenizer call.
        """
        texts = check_texts(texts)
        size = self.weights.size
        if len(texts) == 1:
            # encode_batch dispatches to a thread pool: for one query that costs more than
            # the tokenization itself.
            encodings = [self._tokenizer.encode(texts[0], add_special_tokens=False)]
        else:
            encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        all_ids, all_weights = [], []
        for i, encoding in enumerate(encodings):
            ids = np.unique(np.asarray(encoding.ids, dtype=np.int64))
            ids = ids[ids < size]
            weights = self._query_table[ids]
            keep = weights != 0
            all_ids.append(ids[keep])
            all_weights.append(weights[keep])
            indptr[i + 1] = indptr[i] + int(keep.sum())
        indices = np.concatenate(all_ids) if all_ids else np.zeros(0, np.int64)
        values = np.concatenate(all_weights) if all_weights else np.zeros(0, np.float32)
        return SparseBatch(indptr, indices, values, size)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        raise InputError(
            "this is the query side of an inference-free encoder and cannot encode documents; "
            "load the full encoder (lsr.load_encoder('inference-free:MODEL')) for documents"
        )

    def save_query_side(self, directory: Path) -> None:
        """Write ``tokenizer.json`` and ``idf.json`` into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._tokenizer.save(str(directory / TOKENIZER_FILE))
        save_idf_json(directory / IDF_FILE, self._vocab, self.weights)


# -- full encoder --------------------------------------------------------------------------------
class InferenceFreeEncoder(SparseEncoder):
    """SPLADE-style documents, tokenizer + weight-table queries.

    ``document_encoder`` is a ``SpladeEncoder``; ``query_encoder`` a ``TokenWeightQueryEncoder``
    over the same vocabulary, or ``None`` until :meth:`fit` computes the table from a corpus
    (``needs_fit`` tells which).
    """

    kind = "inference-free"
    query_needs_model = False

    def __init__(
        self, document_encoder, query_encoder: TokenWeightQueryEncoder | None = None, *,
        idf_path: str | None = None,
    ) -> None:
        self.document_encoder = document_encoder
        self.idf_path = idf_path
        self._query: TokenWeightQueryEncoder | None = None
        if query_encoder is not None:
            self._set_query_encoder(query_encoder)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, idf: str | Path | Mapping[str, float] | None = None,
        **splade_options,
    ) -> InferenceFreeEncoder:
        """Load the document model (see ``SpladeEncoder.from_pretrained`` for options).

        The query table comes from ``idf`` (a path to an ``idf.json`` or a ``{token: weight}``
        dict) or else from ``idf.json`` beside the model. Without either the encoder needs
        :meth:`fit` on the corpus before it can encode queries.
        """
        from lsr.encoders.splade import SpladeEncoder

        document = SpladeEncoder.from_pretrained(name_or_path, **splade_options)
        idf_path = None
        if idf is None:
            found = optional_file(name_or_path, IDF_FILE)
            weights = None if found is None else load_idf_json(found, document.vocab)
        elif isinstance(idf, Mapping):
            weights = idf_from_mapping(idf, document.vocab)
        else:
            path = Path(idf)
            if not path.is_file():
                raise InputError(f"idf file {str(idf)!r} does not exist")
            idf_path = str(path.resolve())
            weights = load_idf_json(path, document.vocab)
        if weights is None:
            logger.info("%s has no idf.json: call fit(corpus texts) before encoding queries",
                        name_or_path)
            return cls(document)
        return cls(document, TokenWeightQueryEncoder(document.tokenizer, weights),
                   idf_path=idf_path)

    def _set_query_encoder(self, query: TokenWeightQueryEncoder) -> None:
        if query.vocab != self.document_encoder.vocab:
            raise VocabularyMismatchError(
                "the query table's tokenizer vocabulary differs from the document model's"
            )
        self._query = query

    @property
    def needs_fit(self) -> bool:
        """True until a query weight table exists (from idf.json, ``idf=`` or :meth:`fit`)."""
        return self._query is None

    @property
    def query_encoder(self) -> TokenWeightQueryEncoder:
        if self._query is None:
            raise InputError(
                "this inference-free encoder has no query weight table (the model has no "
                "idf.json and none was given): call fit(corpus_texts) first, or pass idf=PATH"
            )
        return self._query

    def fit(self, texts: Sequence[str], *, show_progress: bool | None = None):
        """Compute the query table as the corpus IDF (see :func:`compute_idf`); returns self."""
        weights = compute_idf(
            self.document_encoder.tokenizer, texts, vocab_size=self.dim,
            show_progress=show_progress,
        )
        self._set_query_encoder(TokenWeightQueryEncoder(self.document_encoder.tokenizer, weights))
        self.idf_path = None
        return self

    @property
    def vocab(self) -> list[str]:
        return self.document_encoder.vocab

    def config(self) -> dict:
        """Document-side options plus ``idf`` when the table came from an explicit file.

        Tables computed by :meth:`fit` or given as a dict are not in the config: they travel
        with an index through :meth:`save_query_side`.
        """
        config = self.document_encoder.config()
        config["kind"] = self.kind
        if self.idf_path is not None:
            config["idf"] = self.idf_path
        return config

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        return self.document_encoder.encode_documents(
            texts, batch_size=batch_size, show_progress=show_progress
        )

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        return self.query_encoder.encode_queries(
            texts, batch_size=batch_size, show_progress=show_progress
        )

    def save_query_side(self, directory: Path) -> None:
        self.query_encoder.save_query_side(directory)
