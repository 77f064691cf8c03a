"""Encoders and ``load_encoder``, the one call that may download a model.

Modules with heavy dependencies (torch, transformers) are imported only when an encoder that
needs them is loaded, so ``import lsr`` and BM25 / inference-free query encoding stay light.
"""

from __future__ import annotations

import json
from pathlib import Path

from lsr.encoders.base import DenseEncoder, SparseEncoder, fingerprint
from lsr.errors import InputError

KINDS = ("bm25", "splade", "inference-free", "dense")

__all__ = [
    "KINDS", "DenseEncoder", "SparseEncoder", "fingerprint", "load_encoder",
    "encoder_from_config", "load_query_encoder", "detect_kind",
]


def detect_kind(name_or_path: str) -> str:
    """Guess the encoder kind of a local model folder or hub id; raise when it cannot."""
    if name_or_path.lower() == "bm25":
        return "bm25"
    path = Path(name_or_path)
    if path.is_dir():
        if (path / "idf.json").is_file():
            return "inference-free"
        if (path / "modules.json").is_file() or (path / "1_Pooling").is_dir():
            return "dense"
        config = path / "config.json"
        if config.is_file():
            archs = json.loads(config.read_text()).get("architectures") or []
            if any(a.endswith("ForMaskedLM") for a in archs):
                return "splade"
        raise InputError(
            f"cannot tell which encoder {name_or_path!r} is: it has no idf.json, no "
            "sentence-transformers modules.json and no *ForMaskedLM config.json; prefix it "
            "with its kind, e.g. 'splade:PATH', 'inference-free:PATH' or 'dense:PATH'"
        )
    lowered = name_or_path.lower()
    if "doc" in lowered and ("inference-free" in lowered or "neural-sparse" in lowered):
        return "inference-free"
    if "splade" in lowered:
        return "splade"
    if lowered.startswith("sentence-transformers/"):
        return "dense"
    raise InputError(
        f"{name_or_path!r} is neither 'bm25', an existing folder, nor a hub id whose kind can "
        "be guessed; prefix it with its kind, e.g. 'splade:org/model' or 'dense:org/model'"
    )


def load_encoder(name_or_path: str, **options):
    """Load an encoder by name, folder or hub id.

    ``"bm25"`` gives the built-in BM25 encoder; ``"KIND:PATH_OR_HUB_ID"`` forces a kind
    (``splade``, ``inference-free``, ``dense``); otherwise the kind is detected from the folder.
    Options are passed to the encoder (``max_length``, ``batch_size``, ``k1``, ...).
    """
    if not isinstance(name_or_path, str) or not name_or_path:
        raise InputError(f"encoder must be a non-empty string, got {name_or_path!r}")
    kind, _, rest = name_or_path.partition(":")
    if rest and kind in KINDS and not Path(name_or_path).exists():
        target = rest
    else:
        kind, target = detect_kind(name_or_path), name_or_path
    if kind == "bm25":
        from lsr.encoders.bm25 import BM25Encoder

        return BM25Encoder(**options)
    if kind == "splade":
        from lsr.encoders.splade import SpladeEncoder

        return SpladeEncoder.from_pretrained(target, **options)
    if kind == "inference-free":
        from lsr.encoders.inference_free import InferenceFreeEncoder

        return InferenceFreeEncoder.from_pretrained(target, **options)
    from lsr.encoders.dense import TransformerDenseEncoder

    return TransformerDenseEncoder.from_pretrained(target, **options)


def encoder_from_config(config: dict):
    """Rebuild a full encoder from the ``config()`` an index manifest recorded."""
    config = dict(config)
    kind = config.pop("kind", None)
    target = config.pop("name_or_path", None)
    if kind not in KINDS:
        raise InputError(f"unknown encoder kind {kind!r} in config; expected one of {KINDS}")
    if kind == "bm25":
        return load_encoder("bm25", **config)
    return load_encoder(f"{kind}:{target}", **config)


def load_query_encoder(directory: Path, config: dict):
    """The query side of an index's encoder.

    BM25 and inference-free encoders are rebuilt from the files they saved into the index's
    ``encoder/`` folder, without torch; other kinds reload their model from ``config``.
    """
    kind = config.get("kind")
    if kind == "bm25":
        from lsr.encoders.bm25 import BM25Encoder

        return BM25Encoder.load_query_side(directory, config)
    if kind == "inference-free":
        from lsr.encoders.inference_free import TokenWeightQueryEncoder

        return TokenWeightQueryEncoder.load(directory, config)
    return encoder_from_config(config)
