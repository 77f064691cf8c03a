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
