"""Fixtures of the index tests."""

from __future__ import annotations

import pytest
from index_helpers import random_batch


@pytest.fixture
def collection():
    docs = random_batch(600, 300, 0.04, seed=1, empty_rows=20)
    queries = random_batch(40, 300, 0.03, seed=2, empty_rows=3)
    ids = [f"doc-{i}" for i in range(len(docs))]
    return docs, queries, ids
