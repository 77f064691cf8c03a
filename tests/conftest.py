"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# --- shared data (../shared beside the repo; BM25 / corpus / eval tests) ----------------------
SHARED = Path(
    os.environ.get("LSR_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ``shared`` folder (override with ``LSR_SHARED``); skips when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} not found (set LSR_SHARED to its location)")
    return SHARED


@pytest.fixture(scope="session")
def scifact_dir(shared_dir: Path) -> Path:
    """BEIR SciFact in ``shared/beir/scifact``; skips when absent."""
    path = shared_dir / "beir" / "scifact"
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"BEIR SciFact not found at {path}")
    return path
# --- end shared data ---------------------------------------------------------------------------


# --- shared models (encoder tests: SPLADE, inference-free, dense) ------------------------------
def shared_model(shared_dir: Path, name: str, *, needs_torch: bool = True) -> Path:
    """``shared/models/<name>``; skips when absent or (``needs_torch``) torch is missing."""
    path = shared_dir / "models" / name
    if not (path / "config.json").is_file():
        pytest.skip(f"model {name} not found at {path}")
    if needs_torch:
        pytest.importorskip("torch", reason="torch not installed (pip install 'lsr[models]')")
        pytest.importorskip("transformers", reason="transformers not installed")
    return path


@pytest.fixture(scope="session")
def splade_tiny_dir(shared_dir: Path) -> Path:
    """``shared/models/splade-tiny`` (BertForMaskedLM, BERT uncased vocab); skips when absent."""
    return shared_model(shared_dir, "splade-tiny")


@pytest.fixture(scope="session")
def splade_tiny_tokenizer_file(shared_dir: Path) -> Path:
    """splade-tiny's ``tokenizer.json`` for torch-free tests (Rust ``tokenizers`` only)."""
    path = shared_model(shared_dir, "splade-tiny", needs_torch=False) / "tokenizer.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def minilm_dir(shared_dir: Path) -> Path:
    """``shared/models/all-MiniLM-L6-v2`` (sentence-transformers); skips when absent."""
    return shared_model(shared_dir, "all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def scifact_texts(scifact_dir: Path) -> list[str]:
    """The first 16 SciFact documents as ``title + " " + text``."""
    import json

    texts = []
    with open(scifact_dir / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            texts.append(f"{doc['title']} {doc['text']}".strip())
            if len(texts) == 16:
                break
    return texts
# --- end shared models -------------------------------------------------------------------------
