"""One (engine, collection) measurement, run in its own process by ``bench_search.py``.

The process loads the collection, resets its peak-RSS counter, builds the engine, times single
queries and batches for every knob setting, records the peak RSS, and only then computes
accuracies (brute force would otherwise count in the engine's memory). Rows go back to the
parent as one JSON object on stdout; everything else goes to stderr.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from bench.common import (
    COLLECTION,
    K,
    Skip,
    accuracy_at_k,
    latency_stats,
    peak_rss_mb,
    postings_touched,
    reset_peak_rss,
    rss_mb,
    time_batch,
    time_queries,
    topk_reference,
)
from bench.data import load_collection

ENGINE_MODULES = {
    "lsr-exact": "lsr_engine", "lsr-maxscore": "lsr_engine", "lsr-blockmax": "lsr_engine",
    "lsr-auto": "lsr_engine", "lsr-approx": "lsr_engine",
    "seismic": "seismic_engine",
    "pisa-maxscore": "pisa_engine", "pisa-bmw": "pisa_engine", "pisa-bmm": "pisa_engine",
    "pisa-wand": "pisa_engine",
    "scipy": "scipy_engine", "sparse-dot-topn": "scipy_engine",
    "bm25s": "text_engines", "lsr-bm25": "text_engines", "lsr-if-text": "text_engines",
}
TEXT_ENGINES = ("bm25s", "lsr-bm25", "lsr-if-text")
TEXT_COLLECTIONS = {"bm25s": ("real", "rand-text"), "lsr-bm25": ("real", "rand-text"),
                    "lsr-if-text": ("real-if", "rand-text")}


def pairs_apply(engine: str, collection: str) -> bool:
    """Whether ``engine`` runs on ``collection`` at all (checked before starting a worker)."""
    if engine in TEXT_COLLECTIONS:
        return collection in TEXT_COLLECTIONS[engine]
    return collection != "rand-text"


def log(msg: str) -> None:
    print(f"[worker] {msg}", file=sys.stderr, flush=True)


def make_engine(name: str, spec: dict):
    if name not in ENGINE_MODULES:
        raise ValueError(f"unknown engine {name!r}; choose from {sorted(ENGINE_MODULES)}")
    module = importlib.import_module(f"bench.{ENGINE_MODULES[name]}")
    return module.make(name, spec)


# -- the collection's exact top-k, cached ---------------------------------------------------------
def fingerprint(coll) -> str:
    h = hashlib.sha1()
    for b in (coll.queries, coll.docs):
        h.update(np.asarray([len(b), b.nnz, b.dim], dtype=np.int64).tobytes())
        h.update(np.float64(b.values.astype(np.float64).sum()).tobytes())
        h.update(np.int64(b.indices.astype(np.int64).sum()).tobytes())
    h.update(coll.queries.values.tobytes())
    return h.hexdigest()[:16]


def oracle_path(coll, cache: Path) -> Path:
    return cache / "oracle" / f"{coll.name}-q{coll.n_queries}-k{K}-{fingerprint(coll)}.npz"


def collection_oracle(coll, cache: Path | None) -> dict:
    """Exact float64 top-k of the collection (cached under ``cache/oracle``) + postings touched."""
    path = oracle_path(coll, cache) if cache is not None else None
    if path is not None and path.is_file():
        with np.load(path) as f:
            return {key: f[key] for key in f.files}
    start = time.perf_counter()
    q, d = coll.query_matrix(), coll.doc_matrix()
    idx, scores, kth = topk_reference(q, d)
    out = {"idx": idx, "scores": scores, "kth": kth, "touched": postings_touched(q, d),
           "seconds": np.float64(time.perf_counter() - start)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)
    log(f"oracle for {coll.name}: {time.perf_counter() - start:.1f} s")
    return out


def run_oracle(spec: dict) -> dict:
    coll = load_collection(spec["collection"], cache=spec.get("cache"),
                           n_queries=spec.get("n_queries"))
    oracle = collection_oracle(coll, Path(spec["oracle_cache"]))
    return {"collection": coll.name, "n_docs": coll.n_docs, "n_queries": coll.n_queries,
            "doc_nnz": coll.docs.nnz, "query_nnz_mean": float(coll.queries.nnz_per_row().mean()),
            "touched_mean": float(oracle["touched"].mean()),
            "oracle_seconds": float(oracle["seconds"]), "source": coll.info.get("source")}


# -- one engine ----------------------------------------------------------------------------------
def _batch_qps(engine, prepared, threads_list, budget_s, single_total_s):
    """QPS of the batch mode for each thread count (None where unsupported)."""
    out, raw_by_threads = {}, {}
    # Large collections: one timed run, no warm-up, when a batch would take long.
    repeats = 2 if single_total_s < budget_s / 4 else 1
    for threads in threads_list:
        if engine.batch_threads is None or threads not in engine.batch_threads:
            out[threads] = None
            continue
        try:
            if repeats == 1:
                t0 = time.perf_counter()
                raw = engine.search_batch(prepared, threads)
                secs = time.perf_counter() - t0
            else:
                secs, raw = time_batch(lambda t=threads: engine.search_batch(prepared, t),
                                       repeats)
        except Skip as exc:
            log(f"{engine.name}: no {threads}-thread batch: {exc}")
            out[threads] = None
            continue
        out[threads] = len(prepared) / secs
        raw_by_threads[threads] = raw
    return out, raw_by_threads


def code_fingerprint() -> str:
    """Hash of the library's sources as this worker imported them (the tree may be edited
    while a long run goes on: rows with different fingerprints measured different code)."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha1()
    for folder in ("lsr", "index"):
        for f in sorted((root / folder).rglob("*.py")):
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def run_engine(spec: dict) -> dict:
    name, coll_name = spec["engine"], spec["collection"]
    code = code_fingerprint()
    engine = make_engine(name, spec)
    reason = engine.applies_to(coll_name)
    if reason:
        raise Skip(reason)
    coll = load_collection(coll_name, cache=spec.get("cache"), n_queries=spec.get("n_queries"),
                           with_texts=name in TEXT_ENGINES)
    if name in TEXT_ENGINES and coll.doc_texts is None:
        raise Skip(f"{coll_name} has no texts")
    budget = float(spec.get("budget", 120))
    threads_list = [int(t) for t in spec.get("threads", [1, 2])]
    engine.preload()
    reset_ok = reset_peak_rss()
    base_mb = rss_mb() if reset_ok else peak_rss_mb()
    workdir = tempfile.mkdtemp(prefix=f"bench-{name}-", dir=spec.get("workdir"))

    t0 = time.perf_counter()
    engine.build(coll, workdir)
    build_s = time.perf_counter() - t0
    log(f"{name} on {coll_name}: built in {build_s:.2f} s")
    prepared = engine.prepare(coll)

    measured = []
    for setting in engine.settings():
        engine.configure(setting)
        lat = np.zeros(0)
        results = None
        if engine.single_query:
            raw, lat = time_queries(engine.search_one, prepared, budget)
            results = [engine.decode(r) for r in raw]
        subset = prepared[:max(lat.size, 1)] if engine.single_query else prepared
        qps, raw_batch = _batch_qps(engine, subset, threads_list, budget,
                                    float(lat.sum()) / 1e6)
        if results is None and raw_batch:
            results = engine.decode_batch(next(iter(raw_batch.values())))
        extra = engine.extra_timings(prepared) if engine.single_query else {}
        measured.append((setting, lat, qps, results, extra))
        log(f"{name} {setting}: mean {lat.mean() if lat.size else float('nan'):.1f} us")
    peak_total = peak_rss_mb()
    peak_mb = peak_total - base_mb
    engine.after_timing(workdir)

    # Accuracy against float brute force (and against the engine's own weights).
    ref = engine.reference(coll)
    if ref is COLLECTION:
        oracle = collection_oracle(coll, Path(spec["oracle_cache"]) if spec.get("oracle_cache")
                                   else None)
        ref_q, ref_d = coll.query_matrix(), coll.doc_matrix()
        touched = oracle["touched"]
    elif ref is not None:
        ref_q, ref_d = ref
        idx, scores, kth = topk_reference(ref_q, ref_d)
        oracle = {"idx": idx, "kth": kth}
        touched = postings_touched(ref_q, ref_d)
    else:
        oracle, touched = None, postings_touched(coll.query_matrix(), coll.doc_matrix())
    own_touched = engine.touched_counts(coll)
    if own_touched is not None:
        touched = own_touched
    acc = {}
    for i, (_, _, _, results, _) in enumerate(measured):
        if oracle is not None and results:
            n = len(results)
            acc[i] = accuracy_at_k(results, ref_q[:n], ref_d, oracle["idx"][:n],
                                   oracle["kth"][:n])
    own = engine.own_weights(coll) if oracle is not None else None
    acc_own = {}
    if own is not None:
        own_d, own_q = own
        own_idx, _, own_kth = topk_reference(own_q, own_d)
        for i, (_, _, _, results, _) in enumerate(measured):
            if results:
                n = len(results)
                acc_own[i] = accuracy_at_k(results, own_q[:n], own_d, own_idx[:n], own_kth[:n])

    index_bytes = engine.index_bytes()
    postings = engine.postings() or coll.docs.nnz
    rows = []
    for i, (setting, lat, qps, results, extra) in enumerate(measured):
        n = len(results) if results is not None else 0
        row = {
            "collection": coll_name, "engine": name, "setting": setting,
            "build": engine.build_info(), "exact": engine.exact,
            "n_docs": coll.n_docs, "n_queries": coll.n_queries, "doc_nnz": coll.docs.nnz,
            "build_s": build_s, "index_bytes": index_bytes, "postings": postings,
            "bytes_per_posting": (index_bytes / postings) if index_bytes else None,
            "peak_rss_mb": peak_mb, "rss_reset": reset_ok, "peak_rss_total_mb": peak_total,
            **latency_stats(lat),
            **{f"qps_batch_{t}t": v for t, v in qps.items()},
            "touched_mean": float(touched[:max(n, 1)].mean()) if touched.size else 0.0,
            "touched_note": engine.touched_note, **extra,
            "load_avg_1m": os.getloadavg()[0], "lsr_code": code,
        }
        if i in acc:
            row["acc10"] = acc[i]
        if i in acc_own:
            row["acc10_own"] = acc_own[i]
        rows.append(row)
    return {"rows": rows}


def _jsonable(obj):
    return obj.item() if hasattr(obj, "item") else str(obj)


def main(spec_json: str) -> int:
    """Run one spec; the JSON answer is the only thing written to the real stdout."""
    spec = json.loads(spec_json)
    sys.stdout.flush()
    answer_fd = os.dup(1)
    os.dup2(2, 1)          # native libraries print progress to fd 1: send it to stderr
    try:
        out = run_oracle(spec) if spec.get("oracle") else run_engine(spec)
    except Skip as exc:
        out = {"skip": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failed row
        traceback.print_exc(file=sys.stderr)
        out = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.flush()
    with os.fdopen(answer_fd, "w") as answer:
        answer.write(json.dumps(out, default=_jsonable) + "\n")
    return 0
