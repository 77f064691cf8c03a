"""Encoding speed of the neural encoders on SciFact documents (title + " " + text).

    python scripts/bench_encoders.py [N_DOCS] [BATCH_SIZE]

Reports documents/s at max length 256 for splade-tiny (fast path, reference path, bf16
projection) and all-MiniLM-L6-v2, plus the largest SPLADE weight difference between paths.
Models and data come from ``$LSR_SHARED`` (default ``../shared``). Uses torch's default thread
count; set ``OMP_NUM_THREADS`` or pass ``torch_threads`` to change it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def scifact_texts(shared: Path, n: int) -> list[str]:
    texts = []
    with open(shared / "beir" / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            texts.append(f"{doc['title']} {doc['text']}".strip())
            if len(texts) == n:
                break
    return texts


def timed(encode, texts, repeats: int = 2):
    """Best of ``repeats`` runs after one warm-up batch: (result, docs/s)."""
    encode(texts[:4])
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = encode(texts)
        best = min(best, time.perf_counter() - start)
    return result, len(texts) / best


def main(argv: list[str]) -> int:
    import torch

    from lsr.encoders.dense import TransformerDenseEncoder
    from lsr.encoders.splade import SpladeEncoder

    n = int(argv[0]) if argv else 64
    batch_size = int(argv[1]) if len(argv) > 1 else 32
    shared = Path(os.environ.get("LSR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    texts = scifact_texts(shared, n)
    print(f"{len(texts)} SciFact docs, max length 256, batch {batch_size}, "
          f"{torch.get_num_threads()} torch threads")

    splade_path = str(shared / "models" / "splade-tiny")
    fast = SpladeEncoder.from_pretrained(splade_path, max_length=256, batch_size=batch_size)
    ref = SpladeEncoder(fast.model, fast.tokenizer, max_length=256, batch_size=batch_size,
                        fast_path=False)
    bf16 = SpladeEncoder(fast.model, fast.tokenizer, max_length=256, batch_size=batch_size,
                         dtype="bfloat16")
    out_fast, rate = timed(fast.encode_documents, texts)
    print(f"splade-tiny fast path (fp32)           {rate:7.1f} docs/s   "
          f"{out_fast.nnz / len(texts):.1f} nnz/doc")
    dense_fast = out_fast.to_scipy().toarray()
    for name, enc in (("reference path (fp32)", ref), ("fast path, bf16 projection", bf16)):
        out, rate = timed(enc.encode_documents, texts)
        diff = np.abs(out.to_scipy().toarray() - dense_fast).max()
        print(f"splade-tiny {name:26s} {rate:7.1f} docs/s   max |w - w_fast| = {diff:.2e}")

    minilm = TransformerDenseEncoder.from_pretrained(
        str(shared / "models" / "all-MiniLM-L6-v2"), batch_size=batch_size
    )
    _, rate = timed(minilm.encode_documents, texts)
    print(f"all-MiniLM-L6-v2 (max length {minilm.max_length})        {rate:7.1f} docs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
