"""Issue-2 acceptance figures on BEIR SciFact (test split): BM25, splade-tiny, MiniLM.

Runs ``lsr eval`` for each encoder through the Python API (indexes are cached under --out and
reused on later runs), prints one table and writes it as JSON. Reference figures from
../shared/README.md are printed beside ours.

    python scripts/scifact_acceptance.py [--shared ../shared] [--out runs/acceptance]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from lsr.eval.pipeline import evaluate_encoder

REFERENCE = {  # nDCG@10 from ../shared/README.md, and the acceptance rule
    "bm25": (0.6789, ">= 0.672"),
    "splade-tiny": (0.6436, "within 0.005 of 0.6436"),
    "all-MiniLM-L6-v2": (0.6451, "within 0.005 of 0.6451"),
}


def passes(name: str, ndcg: float) -> bool:
    ref, _ = REFERENCE[name]
    return ndcg >= 0.672 if name == "bm25" else abs(ndcg - ref) <= 0.005


def main() -> None:
    default_shared = Path(os.environ.get("LSR_SHARED", Path(__file__).resolve().parents[2]
                                         / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=default_shared)
    parser.add_argument("--out", type=Path, default=Path("runs/acceptance"))
    parser.add_argument("--only", nargs="*", choices=list(REFERENCE), default=list(REFERENCE))
    parser.add_argument("--bits", type=int, default=8, choices=(8, 16))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    dataset = args.shared / "beir" / "scifact"
    models = args.shared / "models"
    encoders = {
        "bm25": ("bm25", {}),
        "splade-tiny": (f"splade:{models / 'splade-tiny'}", {"max_length": 256}),
        "all-MiniLM-L6-v2": (f"dense:{models / 'all-MiniLM-L6-v2'}", {"max_length": 256}),
    }
    rows = []
    for name in args.only:
        spec, options = encoders[name]
        t0 = time.perf_counter()
        report = evaluate_encoder(dataset, spec, out_dir=args.out / f"{name}-b{args.bits}",
                                  encoder_options=options, bits=args.bits,
                                  rebuild=args.rebuild)
        row = {**report.to_json(), "encoder": name, "wall_seconds": time.perf_counter() - t0,
               "reference_ndcg@10": REFERENCE[name][0], "rule": REFERENCE[name][1],
               "pass": passes(name, report.metrics["ndcg@10"])}
        rows.append(row)
    header = (f"{'encoder':<18} {'nDCG@10':>8} {'R@100':>7} {'MRR@10':>7} {'ref':>7} "
              f"{'pass':>5} {'docs/s':>8} {'q ms p50':>9} {'doc nnz':>8} {'q nnz':>6} "
              f"{'MB':>7}")
    lines = [f"SciFact test, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, bits={args.bits}", header, "-" * len(header)]
    for r in rows:
        m = r["metrics"]
        dps = r["encode_docs_per_second"]
        lines.append(
            f"{r['encoder']:<18} {m['ndcg@10']:>8.4f} {m['recall@100']:>7.4f} "
            f"{m['mrr@10']:>7.4f} {r['reference_ndcg@10']:>7.4f} {str(r['pass']):>5} "
            f"{'cached' if dps is None else f'{dps:.1f}':>8} {r['search_ms_p50']:>9.3f} "
            f"{r['avg_doc_nnz']:>8.1f} {r['avg_query_nnz']:>6.1f} "
            f"{r['index_bytes'] / 1e6:>7.2f}")
    sys.stdout.write("\n".join(lines) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"acceptance-b{args.bits}.json"
    out.write_text(json.dumps({"machine": platform.uname()._asdict(), "rows": rows}, indent=2))
    sys.stdout.write(f"wrote {out}\n")


if __name__ == "__main__":
    main()
