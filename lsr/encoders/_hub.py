"""Optional files beside a model: a local folder or a Hugging Face hub repository."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def is_local(name_or_path: str) -> bool:
    return Path(name_or_path).is_dir()


def canonical_name(name_or_path: str) -> str:
    """Absolute path for a local folder (so configs work from any cwd); hub ids unchanged."""
    path = Path(name_or_path)
    return str(path.resolve()) if path.is_dir() else name_or_path


def optional_file(name_or_path: str, filename: str) -> Path | None:
    """``filename`` inside a model folder or hub repo, or ``None`` when the model has none.

    Only hub ids touch the network (through ``huggingface_hub``, which honours its cache and
    ``HF_HUB_OFFLINE``); call this from ``from_pretrained``-style loaders only.
    """
    if is_local(name_or_path):
        path = Path(name_or_path) / filename
        return path if path.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(name_or_path, filename))
    except EntryNotFoundError:
        logger.debug("%s has no %s", name_or_path, filename)
        return None
