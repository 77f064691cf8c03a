"""SPLADE: sparse vectors from a masked language model's vocabulary logits.

Term weight ``w_j = pool_i act(logit_ij)`` over the tokens ``i`` of a text, with
``act(x) = log(1 + ReLU(x))`` and max pooling (SPLADE v2 / SPLADE++; sum pooling is SPLADE v1):

- Formal, Piwowarski, Clinchant. "SPLADE: Sparse Lexical and Expansion Model for First Stage
  Ranking." SIGIR 2021 (sum pooling).
- Formal, Lassance, Piwowarski, Clinchant. "SPLADE v2." arXiv:2109.10086, 2021 (max pooling).

``log(1 + log(1 + ReLU(x)))`` is the activation of OpenSearch's doc-v3 inference-free models.

Speed. The vocabulary projection dominates: for splade-tiny it is 128 -> 30,522 per token, i.e.
a ``(tokens, 30522)`` logits tensor per text that is 30 MB at 256 tokens. Two things make it fast:

1. With max pooling the activation is monotone, so ``max_i act(x_i) = act(max_i x_i)``: pool the
   raw logits and apply the activation once per ``(batch, vocab)`` entry instead of per token.
2. The projection is computed tile by tile (``_TILE_TOKENS`` tokens x ``_TILE_VOCAB`` vocabulary
   columns) and each tile is reduced while it is still in cache; the full logits tensor is
   never materialised. Padding positions are overwritten with the text's first real token so the
   max needs no mask, and the output bias is added after pooling (``max(x + b) = max(x) + b``).

Measured on 2 cores (AVX-512, no AMX), SciFact documents at max length 256, batch 32
(``scripts/bench_encoders.py``): 8.6 docs/s for the straightforward ``model(...).logits`` path,
~64 docs/s tiled with the activation on every token (``fast_path=False``), ~75 docs/s for the
tiled fast path (fp32, at the machine's matmul peak), ~170 docs/s with ``dtype="bfloat16"``
(projection in bf16; max weight difference ~0.02).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Literal

import numpy as np

from lsr._progress import progress
from lsr.encoders._batching import count_batches, length_sorted_batches
from lsr.encoders._hub import canonical_name
from lsr.encoders._inputs import check_choice, check_positive, check_texts
from lsr.encoders._vocab import vocab_in_id_order
from lsr.encoders.base import SparseEncoder
from lsr.errors import InputError, require
from lsr.sparse import SparseBatch

logger = logging.getLogger(__name__)

Activation = Literal["log1p_relu", "log1p_log1p_relu"]
Pooling = Literal["max", "sum"]
DType = Literal["float32", "bfloat16"]

ACTIVATIONS = ("log1p_relu", "log1p_log1p_relu")
POOLINGS = ("max", "sum")
DTYPES = ("float32", "bfloat16")

# Logits tile: up to ~1024 tokens x 1024 vocabulary columns (4 MB fp32) fits in L2 and was the
# fastest of the sizes tried (512..8192 columns, 256..2048 tokens) on a 2-core AVX-512 machine.
_TILE_TOKENS = 1024
_TILE_VOCAB = 1024
_PROBE_TEXT = "sparse retrieval probe: does the head factor into trunk and projection?"


def activate_(x, activation: Activation):
    """Apply the SPLADE activation to a float tensor in place and return it."""
    x.relu_().log1p_()
    if activation == "log1p_log1p_relu":
        x.log1p_()
    return x


class SpladeEncoder(SparseEncoder):
    """Documents and queries -> SPLADE vectors over the model's vocabulary (siamese).

    Build with :meth:`from_pretrained`. The constructor takes an already loaded
    ``*ForMaskedLM`` model and its tokenizer and does no I/O. Outputs are ``SparseBatch`` rows
    with int32 term ids (sorted) and float32 weights; ``dim`` is the model's vocabulary size.
    """

    kind = "splade"

    def __init__(
        self, model, tokenizer, *, name_or_path: str | None = None, max_length: int = 256,
        query_max_length: int | None = None, activation: Activation = "log1p_relu",
        pooling: Pooling = "max", zero_special_tokens: bool = True, top_k: int | None = None,
        threshold: float = 0.0, batch_size: int = 32, dtype: DType = "float32",
        fast_path: bool = True,
    ) -> None:
        torch = require("torch", "models")
        _check_options(
            max_length=max_length, query_max_length=query_max_length, activation=activation,
            pooling=pooling, top_k=top_k, threshold=threshold, batch_size=batch_size,
            dtype=dtype,
        )
        limit = getattr(model.config, "max_position_embeddings", None)
        for name, value in (("max_length", max_length), ("query_max_length", query_max_length)):
            if value is not None and limit is not None and value > limit:
                raise InputError(
                    f"{name}={value} exceeds the model's max_position_embeddings={limit}"
                )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name_or_path = name_or_path
        self.max_length = max_length
        self.query_max_length = query_max_length if query_max_length is not None else max_length
        self.activation = activation
        self.pooling = pooling
        self.zero_special_tokens = bool(zero_special_tokens)
        self.top_k = top_k
        self.threshold = float(threshold)
        self.batch_size = batch_size
        self.dtype = dtype
        #: Pool raw logits then activate (max pooling only). False forces the reference path
        #: (activation on every token, then pooling); outputs agree to float rounding.
        self.fast_path = fast_path

        projection = _split_projection(model, tokenizer)
        if projection is None:
            output = model.get_output_embeddings()
            vocab_size = getattr(output, "out_features", None) or model.config.vocab_size
            if dtype != "float32":
                logger.warning("dtype=%r is ignored: this model's head cannot be split", dtype)
            self._weight = self._bias = None
        else:
            weight, bias, self._slot = projection
            vocab_size = weight.shape[0]
            self._bias = bias.float()
            self._weight = weight.to(torch.bfloat16 if dtype == "bfloat16" else torch.float32)
        self._vocab = vocab_in_id_order(tokenizer.get_vocab(), vocab_size)
        special = sorted({i for i in tokenizer.all_special_ids if 0 <= i < vocab_size})
        self._special_ids = torch.tensor(special, dtype=torch.long)

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, max_length: int = 256, query_max_length: int | None = None,
        activation: Activation = "log1p_relu", pooling: Pooling = "max",
        zero_special_tokens: bool = True, top_k: int | None = None, threshold: float = 0.0,
        batch_size: int = 32, torch_threads: int | None = None, dtype: DType = "float32",
        fast_path: bool = True,
    ) -> SpladeEncoder:
        """Load a ``*ForMaskedLM`` model and tokenizer from a folder or hub id (may download).

        ``torch_threads`` sets ``torch.set_num_threads`` (process-wide); ``None`` keeps torch's
        default. ``dtype="bfloat16"`` runs the vocabulary projection in bf16: about 2x faster
        on CPUs with AVX-512 BF16 or AMX, weights differ by up to ~1e-2 (slower on CPUs
        without native bf16).
        """
        _check_options(
            max_length=max_length, query_max_length=query_max_length, activation=activation,
            pooling=pooling, top_k=top_k, threshold=threshold, batch_size=batch_size,
            dtype=dtype,
        )
        torch = require("torch", "models")
        transformers = require("transformers", "models")
        if torch_threads is not None:
            check_positive("torch_threads", torch_threads)
            torch.set_num_threads(torch_threads)
        tokenizer = transformers.AutoTokenizer.from_pretrained(name_or_path)
        # float() because recent transformers load in the checkpoint's dtype by default.
        model = transformers.AutoModelForMaskedLM.from_pretrained(name_or_path).float()
        return cls(
            model, tokenizer, name_or_path=canonical_name(name_or_path), max_length=max_length,
            query_max_length=query_max_length, activation=activation, pooling=pooling,
            zero_special_tokens=zero_special_tokens, top_k=top_k, threshold=threshold,
            batch_size=batch_size, dtype=dtype, fast_path=fast_path,
        )

    # -- contract -------------------------------------------------------------------------------
    @property
    def vocab(self) -> list[str]:
        return self._vocab

    def config(self) -> dict:
        return {
            "kind": self.kind,
            "name_or_path": self.name_or_path,
            "max_length": self.max_length,
            "query_max_length": self.query_max_length,
            "activation": self.activation,
            "pooling": self.pooling,
            "zero_special_tokens": self.zero_special_tokens,
            "top_k": self.top_k,
            "threshold": self.threshold,
            "dtype": self.dtype,
        }

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """SPLADE vectors of ``texts`` cut to ``max_length`` tokens; row ``i`` is ``texts[i]``."""
        return self._encode(texts, self.max_length, batch_size, show_progress, "documents")

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SparseBatch:
        """Same model as documents, truncated to ``query_max_length`` tokens."""
        return self._encode(texts, self.query_max_length, batch_size, show_progress, "queries")

    # -- encoding -------------------------------------------------------------------------------
    def _encode(
        self, texts: Sequence[str], max_length: int, batch_size: int | None,
        show_progress: bool | None, desc: str,
    ) -> SparseBatch:
        texts = check_texts(texts)
        batch_size = self.batch_size if batch_size is None else batch_size
        check_positive("batch_size", batch_size)
        n, dim = len(texts), len(self._vocab)
        if n == 0:
            return SparseBatch(np.zeros(1, np.int64), np.zeros(0, np.int32),
                               np.zeros(0, np.float32), dim)
        total = count_batches(n, batch_size)
        import torch

        rows, cols, vals = [], [], []
        batches = length_sorted_batches(self.tokenizer, texts, max_length, batch_size)
        with torch.inference_mode():
            for text_ids, inputs in progress(
                batches, total=total, desc=f"SPLADE {desc}", unit="batch", show=show_progress
            ):
                r, c, v = self._sparsify(self.pool(inputs))
                rows.append(text_ids[r])
                cols.append(c)
                vals.append(v)
        rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        # Each text lies in one batch, whose entries come row-major with ascending term ids;
        # a stable sort on the text index restores input order and keeps ids sorted per row.
        order = np.argsort(rows, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return SparseBatch(indptr, cols[order], vals[order], dim)

    def pool(self, inputs: dict):
        """Pooled, activated weights: float32 tensor ``(batch, vocab)`` (before pruning).

        ``inputs`` are padded model inputs (``input_ids``, ``attention_mask`` int64
        ``(batch, tokens)``), as the tokenizer returns them.
        """
        import torch

        with torch.inference_mode():
            mask = inputs["attention_mask"].bool()
            if self._weight is None:
                return self._pool_full_logits(inputs, mask)
            with _trunk_only(self._slot):
                hidden = self.model(**inputs).logits  # (batch, tokens, hidden)
            return self._pool_tiled(hidden, mask)

    def _pool_tiled(self, hidden, mask):
        import torch

        batch, length, _ = hidden.shape
        weight, bias = self._weight, self._bias
        vocab = weight.shape[0]
        fast = self.fast_path and self.pooling == "max"
        if fast:
            # Padding rows become copies of the text's first real token: the max over tokens
            # is then unchanged and needs no -inf mask over a (batch, tokens, vocab) tensor.
            first = mask.to(torch.uint8).argmax(dim=1)
            fill = hidden[torch.arange(batch), first]
            hidden = torch.where(mask[..., None], hidden, fill[:, None, :])
        hidden = hidden.to(weight.dtype)
        out = torch.empty(batch, vocab, dtype=torch.float32)
        group = max(1, _TILE_TOKENS // length)
        for lo in range(0, batch, group):
            h = hidden[lo : lo + group]
            m = mask[lo : lo + group, :, None].float()
            for v in range(0, vocab, _TILE_VOCAB):
                logits = torch.matmul(h, weight[v : v + _TILE_VOCAB].T)  # (g, tokens, tile)
                if fast:
                    out[lo : lo + group, v : v + _TILE_VOCAB] = logits.amax(dim=1)
                    continue
                logits = activate_(logits.float() + bias[v : v + _TILE_VOCAB], self.activation)
                logits.mul_(m)
                reduced = logits.amax(dim=1) if self.pooling == "max" else logits.sum(dim=1)
                out[lo : lo + group, v : v + _TILE_VOCAB] = reduced
        if fast:
            out.add_(bias)
            activate_(out, self.activation)
        return out

    def _pool_full_logits(self, inputs, mask):
        """Reference path for heads that do not factor into trunk + linear projection."""
        logits = self.model(**inputs).logits.float()  # (batch, tokens, vocab)
        if self.fast_path and self.pooling == "max":
            logits.masked_fill_(~mask[..., None], float("-inf"))
            return activate_(logits.amax(dim=1), self.activation)
        activate_(logits, self.activation).mul_(mask[..., None])
        return logits.amax(dim=1) if self.pooling == "max" else logits.sum(dim=1)

    def _sparsify(self, pooled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Zero special tokens, prune, and return ``(rows int64, term ids int32, weights f32)``.

        Modifies ``pooled`` (float32 ``(batch, vocab)``) in place; call under inference mode.
        Rows come in row-major order with ascending term ids (``torch.nonzero`` order).
        """
        import torch

        if self.zero_special_tokens and self._special_ids.numel():
            pooled[:, self._special_ids] = 0.0
        keep = pooled > self.threshold
        if self.top_k is not None and self.top_k < pooled.shape[1]:
            top = pooled.topk(self.top_k, dim=1, sorted=False).indices
            in_top = torch.zeros_like(keep).scatter_(1, top, True)
            keep &= in_top
        rows, cols = keep.nonzero(as_tuple=True)
        vals = pooled[rows, cols]
        return rows.numpy(), cols.to(torch.int32).numpy(), vals.numpy()


def _check_options(
    *, max_length, query_max_length, activation, pooling, top_k, threshold, batch_size, dtype
) -> None:
    check_positive("max_length", max_length)
    check_positive("query_max_length", query_max_length, allow_none=True)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("pooling", pooling, POOLINGS)
    check_positive("top_k", top_k, allow_none=True)
    check_positive("batch_size", batch_size)
    check_choice("dtype", dtype, DTYPES)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
        threshold >= 0 and math.isfinite(threshold)
    ):
        raise InputError(f"threshold must be a finite number >= 0, got {threshold!r}")


def _output_slot(model):
    """``(parent module, attribute name)`` holding the model's output embedding, or ``None``."""
    output = model.get_output_embeddings()
    if output is None:
        return None
    for module in model.modules():
        for name, child in module.named_children():
            if child is output:
                return module, name
    return None


@contextmanager
def _trunk_only(slot):
    """Temporarily replace the output projection by identity: ``.logits`` become hidden states.

    ``slot`` is ``_output_slot(model)``. The model is restored on exit, so the caller's model
    object is unchanged between calls (not safe for concurrent calls on one model).
    """
    import torch

    parent, name = slot
    output = getattr(parent, name)
    setattr(parent, name, torch.nn.Identity())
    try:
        yield
    finally:
        setattr(parent, name, output)


def _split_projection(model, tokenizer):
    """``(weight (vocab, hidden), bias (vocab,), slot)`` of the final projection, or ``None``.

    The split is checked on a probe text: trunk output times the projection must reproduce the
    model's logits. Heads with anything after the projection (scaling, soft-capping) fail the
    check and fall back to full logits.
    """
    import torch

    output = model.get_output_embeddings()
    slot = _output_slot(model)
    if not isinstance(output, torch.nn.Linear) or slot is None:
        logger.info("output embedding is not a plain Linear; using full logits (slower)")
        return None
    weight = output.weight.detach()
    bias = output.bias.detach() if output.bias is not None else torch.zeros(weight.shape[0])
    probe = dict(tokenizer([_PROBE_TEXT], return_tensors="pt"))
    with torch.inference_mode():
        reference = model.eval()(**probe).logits.float()
        with _trunk_only(slot):
            hidden = model(**probe).logits.float()
        ok = hidden.shape[-1] == weight.shape[1] and torch.allclose(
            hidden @ weight.float().T + bias.float(), reference, rtol=1e-4, atol=1e-4
        )
    if not ok:
        logger.warning(
            "the MLM head does not factor into trunk + linear projection; using full logits "
            "(correct but several times slower)"
        )
        return None
    return weight, bias, slot
