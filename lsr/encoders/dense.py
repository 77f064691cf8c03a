"""Dense bi-encoder: a transformer, mean or CLS pooling, optional L2 normalisation.

Reproduces sentence-transformers' ``Transformer -> Pooling -> [Normalize]`` pipeline for the
common case (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019) without depending on it: the
pooling mode, normalisation and maximum length are read from the model folder's
``modules.json``, ``1_Pooling/config.json`` and ``sentence_bert_config.json`` when not given.
Pipelines with other modules (``Dense`` projections, max or weighted pooling) are refused rather
than silently approximated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np

from lsr._progress import progress
from lsr.encoders._batching import count_batches, length_sorted_batches
from lsr.encoders._hub import canonical_name, optional_file
from lsr.encoders._inputs import check_choice, check_positive, check_texts
from lsr.encoders.base import DenseEncoder
from lsr.errors import InputError, require

logger = logging.getLogger(__name__)

DensePooling = Literal["mean", "cls"]
POOLINGS = ("mean", "cls")
_ST = "sentence_transformers.models."


class TransformerDenseEncoder(DenseEncoder):
    """Texts -> float32 ``(n, dim)`` embeddings from a transformer encoder (``AutoModel``).

    Build with :meth:`from_pretrained`; the constructor takes a loaded model and tokenizer and
    does no I/O. Queries and documents share the model and differ only by their prefixes.
    """

    kind = "dense"

    def __init__(
        self, model, tokenizer, *, name_or_path: str | None = None,
        pooling: DensePooling = "mean", normalize: bool = True, max_length: int = 512,
        batch_size: int = 32, query_prefix: str = "", document_prefix: str = "",
        lowercase: bool = False,
    ) -> None:
        require("torch", "models")
        _check_options(pooling, max_length, batch_size, query_prefix, document_prefix)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name_or_path = name_or_path
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.max_length = max_length
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        #: sentence-transformers' ``do_lower_case``: lowercase texts before tokenizing.
        self.lowercase = bool(lowercase)
        self._dim = int(model.config.hidden_size)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, pooling: DensePooling | None = None,
        normalize: bool | None = None, max_length: int | None = None, batch_size: int = 32,
        query_prefix: str = "", document_prefix: str = "", torch_threads: int | None = None,
    ) -> TransformerDenseEncoder:
        """Load a model folder or hub id (may download).

        ``None`` options come from the sentence-transformers files: ``pooling`` from
        ``1_Pooling/config.json`` (default ``"mean"``), ``normalize`` is True when
        ``modules.json`` lists a ``Normalize`` module, ``max_length`` is
        ``sentence_bert_config.json``'s ``max_seq_length`` (default 512). ``torch_threads``
        sets ``torch.set_num_threads`` process-wide; ``None`` keeps torch's default.
        """
        if pooling is not None:
            check_choice("pooling", pooling, POOLINGS)
        if max_length is not None:
            check_positive("max_length", max_length)
        torch = require("torch", "models")
        transformers = require("transformers", "models")
        if torch_threads is not None:
            check_positive("torch_threads", torch_threads)
            torch.set_num_threads(torch_threads)
        st = _read_sentence_transformers_config(name_or_path)
        if pooling is None:
            modes = st.get("pooling_modes", ["mean"])
            if modes not in (["mean"], ["cls"]):
                raise InputError(
                    f"{name_or_path!r} uses sentence-transformers pooling {modes}; only a "
                    "single 'mean' or 'cls' is supported (pass pooling= to override)"
                )
            pooling = modes[0]
        tokenizer = transformers.AutoTokenizer.from_pretrained(name_or_path)
        # float() because recent transformers load in the checkpoint's dtype by default.
        model = transformers.AutoModel.from_pretrained(name_or_path).float()
        if max_length is None:
            max_length = st.get("max_seq_length") or 512
        limit = getattr(model.config, "max_position_embeddings", None)
        if limit is not None and max_length > limit:
            raise InputError(f"max_length={max_length} exceeds the model's limit of {limit}")
        return cls(
            model, tokenizer, name_or_path=canonical_name(name_or_path),
            pooling=pooling,
            normalize=st.get("normalize", False) if normalize is None else normalize,
            max_length=max_length, batch_size=batch_size, query_prefix=query_prefix,
            document_prefix=document_prefix, lowercase=st.get("do_lower_case", False),
        )

    @property
    def dim(self) -> int:
        return self._dim

    def config(self) -> dict:
        return {
            "kind": self.kind,
            "name_or_path": self.name_or_path,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "query_prefix": self.query_prefix,
            "document_prefix": self.document_prefix,
        }

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """float32 ``(len(texts), dim)``; row ``i`` embeds ``document_prefix + texts[i]``."""
        return self._encode(texts, self.document_prefix, batch_size, show_progress, "documents")

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """float32 ``(len(texts), dim)``; row ``i`` embeds ``query_prefix + texts[i]``."""
        return self._encode(texts, self.query_prefix, batch_size, show_progress, "queries")

    def _encode(
        self, texts: Sequence[str], prefix: str, batch_size: int | None,
        show_progress: bool | None, desc: str,
    ) -> np.ndarray:
        import torch

        texts = check_texts(texts)
        batch_size = self.batch_size if batch_size is None else batch_size
        check_positive("batch_size", batch_size)
        # sentence-transformers strips each text before tokenizing; do the same.
        texts = [(prefix + t).strip() for t in texts]
        if self.lowercase:
            texts = [t.lower() for t in texts]
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        batches = length_sorted_batches(self.tokenizer, texts, self.max_length, batch_size)
        with torch.inference_mode():
            for text_ids, inputs in progress(
                batches, total=count_batches(len(texts), batch_size), desc=f"dense {desc}",
                unit="batch", show=show_progress,
            ):
                out[text_ids] = self.pool(inputs).numpy()
        return out

    def pool(self, inputs: dict):
        """Embeddings of padded model inputs: float32 tensor ``(batch, dim)``."""
        import torch

        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state.float()  # (batch, tokens, dim)
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                # Same clamp as sentence-transformers, so an all-padding row gives 0, not NaN.
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return pooled


def _check_options(pooling, max_length, batch_size, query_prefix, document_prefix) -> None:
    check_choice("pooling", pooling, POOLINGS)
    check_positive("max_length", max_length)
    check_positive("batch_size", batch_size)
    for name, value in (("query_prefix", query_prefix), ("document_prefix", document_prefix)):
        if not isinstance(value, str):
            raise InputError(f"{name} must be a string, got {value!r}")


def _read_json(path) -> dict | list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from exc


def _read_sentence_transformers_config(name_or_path: str) -> dict:
    """Pooling, normalisation and length settings of a sentence-transformers model.

    Returns a dict with any of ``pooling_modes``, ``normalize``, ``max_seq_length``,
    ``do_lower_case``; empty for a plain transformers model.
    """
    found: dict = {}
    pooling_dir = "1_Pooling"
    modules_file = optional_file(name_or_path, "modules.json")
    if modules_file is not None:
        modules = _read_json(modules_file)
        types = [str(m.get("type", "")) for m in modules]
        found["normalize"] = any(t.endswith("Normalize") for t in types)
        for module in modules:
            kind = str(module.get("type", ""))
            short = kind.removeprefix(_ST)
            if short == "Pooling":
                pooling_dir = module.get("path") or pooling_dir
            elif short not in ("Transformer", "Normalize"):
                raise InputError(
                    f"{name_or_path!r} has a sentence-transformers {kind!r} module that this "
                    "encoder does not implement (only Transformer, Pooling and Normalize are)"
                )
    pooling_file = optional_file(name_or_path, f"{pooling_dir}/config.json")
    if pooling_file is not None:
        found["pooling_modes"] = _pooling_modes(_read_json(pooling_file))
    bert_file = optional_file(name_or_path, "sentence_bert_config.json")
    if bert_file is not None:
        config = _read_json(bert_file)
        if config.get("max_seq_length"):
            found["max_seq_length"] = int(config["max_seq_length"])
        found["do_lower_case"] = bool(config.get("do_lower_case", False))
    return found


def _pooling_modes(config: dict) -> list[str]:
    """Enabled ``pooling_mode_*`` flags of a Pooling config, e.g. ``["mean"]``."""
    return sorted(
        key.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
        for key, value in config.items()
        if key.startswith("pooling_mode_") and value
    )
