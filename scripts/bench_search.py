"""Search engines side by side, in one run: our index, Seismic, PISA, bm25s, SciPy brute force.

    python scripts/bench_search.py                       # defaults below
    python scripts/bench_search.py --quick               # small random collections, seconds
    nice python scripts/bench_search.py --collections real real-if \\
        --engines lsr-exact seismic pisa-maxscore pisa-bmw scipy bm25s lsr-bm25 lsr-if-text \\
        --threads 1 2 --out runs/bench_search.json

Every (engine, collection) pair runs in its own worker process (this script with
``--worker``), so build time and peak RSS belong to that engine alone; the parent measures
memory bandwidth, runs one oracle process per collection (float64 brute-force top-10, cached
under ``.cache/bench/oracle``), collects the workers' rows, prints one table and writes JSON.

Columns: build s; index size (MB, on disk where the engine writes one, else in memory) and
bytes per posting; per-query latency over single-query calls with one thread (mean / p50 /
p99 µs, each query timed alone with ``perf_counter_ns`` after a warm-up); QPS of single
queries (1t) and of the batch mode with 1 and 2 threads; accuracy@10 against float64 brute
force over the float32 vectors (tie-aware: a result counts when its exact score reaches the
exact 10th score) and, for engines that quantize, against brute force over their own
quantized weights; peak RSS (VmHWM after the build and searches minus RSS after loading the
data); postings touched per query and the physical floor ``touched x bytes/posting /
bandwidth``. "touched" is the exhaustive count (sum of the document frequencies of the query
terms) for every engine: no engine reports what it really reads, so for pruning engines the
floor is that of exhaustive scoring over their index layout.

Collections: ``real`` / ``real-if`` (splade-tiny SciFact vectors; SPLADE or inference-free
queries; ``scripts/benchdata.py``), ``synth-100k`` / ``synth-1m`` / ``synth-4m`` (fitted to the
real vectors; ``scripts/synthetic.py``), ``rand-N`` (seeded random) and ``rand-text`` (the
bundled sample corpus) for smoke tests. Engines: see ``--engines``; text engines (``bm25s``,
``lsr-bm25``, ``lsr-if-text``) time the whole path from query text. Peer engines are in the
``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from bench.report import (  # noqa: E402
    add_floor,
    format_table,
    format_targets,
    machine_info,
    memory_bandwidth,
)

DEFAULT_COLLECTIONS = ["real", "real-if", "synth-100k", "synth-1m"]
DEFAULT_ENGINES = ["scipy", "sparse-dot-topn", "lsr-exact", "lsr-maxscore", "lsr-blockmax",
                   "lsr-auto", "lsr-approx", "seismic", "pisa-maxscore", "pisa-bmw", "bm25s",
                   "lsr-bm25", "lsr-if-text"]
QUICK_COLLECTIONS = ["rand-5k", "rand-text"]
#: Seismic build settings swept by default: the library defaults (tuned for 8.8M MS MARCO
#: passages; they prune nothing on SciFact) and lighter static pruning for our sizes.
DEFAULT_SEISMIC_BUILDS = ["n_postings=3500,centroid_fraction=0.1,summary_energy=0.4"]
DEFAULT_GRID = ["5:0.9", "10:0.9", "10:1.0", "20:0.9", "20:1.0", "40:1.0"]


def parse_build(text: str) -> dict:
    out = {}
    for part in filter(None, text.split(",")):
        key, value = part.split("=", 1)
        out[key.strip()] = float(value) if "." in value else int(value)
    return out


def parse_grid(items: list[str]) -> list[list]:
    grid = []
    for item in items:
        qc, hf = item.split(":")
        grid.append([int(qc), float(hf)])
    return grid


def git_state() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def worker_env(max_threads: int) -> dict:
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "RAYON_NUM_THREADS", "OMP_NUM_THREADS",
                "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(max_threads)
    env["TQDM_DISABLE"] = "1"
    return env


def run_worker(spec: dict, env: dict, log_file, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    log_file.write(f"\n===== {spec.get('engine', 'oracle')} on {spec['collection']} =====\n")
    log_file.flush()
    try:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=log_file,
                              text=True, timeout=timeout, cwd=str(REPO))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"worker exited with status {proc.returncode} (see the log)"}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", nargs="+", default=None,
                        help=f"default: {' '.join(DEFAULT_COLLECTIONS)}")
    parser.add_argument("--engines", nargs="+", default=None,
                        help=f"default: {' '.join(DEFAULT_ENGINES)}")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2],
                        help="thread counts of the batch figures (single queries: 1 thread)")
    parser.add_argument("--queries", type=int, default=1000, help="queries per collection (max)")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds of single-query timing per setting before stopping early")
    parser.add_argument("--seismic-build", action="append", default=None,
                        help="Seismic build knobs, e.g. n_postings=1000,centroid_fraction=0.1 "
                             "(repeat for several builds)")
    parser.add_argument("--grid", nargs="+", default=DEFAULT_GRID,
                        help="approximate search settings query_cut:heap_factor (Seismic and "
                             "lsr-approx)")
    parser.add_argument("--cache", default=None, help="benchmark data cache (benchdata.py's)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_search.json")
    parser.add_argument("--log", type=Path, default=None, help="worker stderr (default OUT.log)")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="per worker, seconds")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: small random collections, few queries, short budget")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from bench.worker import main as worker_main
    from bench.worker import pairs_apply

    if args.worker is not None:
        return worker_main(args.worker)

    if args.quick:
        args.collections = args.collections or QUICK_COLLECTIONS
        args.queries = min(args.queries, 100)
        args.budget = min(args.budget, 5.0)
    collections = args.collections or DEFAULT_COLLECTIONS
    engines = args.engines or DEFAULT_ENGINES
    seismic_builds = [parse_build(b) for b in (args.seismic_build or DEFAULT_SEISMIC_BUILDS)]
    grid = parse_grid(args.grid)
    try:
        from benchdata import cache_dir
    except ImportError:        # benchdata.py absent: its default place
        def cache_dir():
            return Path(os.environ.get("LSR_BENCH_CACHE", REPO / ".cache" / "bench"))

    cache = Path(args.cache) if args.cache else cache_dir()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.log or args.out.with_suffix(".log")

    machine = machine_info()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, "
          f"Python {platform.python_version()}")
    bandwidth = memory_bandwidth()
    machine["bandwidth_gbs"] = bandwidth / 1e9
    print(f"memory bandwidth (NumPy read-sum over 1 GiB, best of 5): {bandwidth / 1e9:.1f} GB/s")
    env = worker_env(max(args.threads))
    rows, notes, colls = [], [], {}
    started = time.time()
    with open(log_path, "w") as log_file:
        for coll in collections:
            base = {"collection": coll, "cache": str(cache) if args.cache else None,
                    "n_queries": args.queries, "oracle_cache": str(cache),
                    "workdir": None}
            info = run_worker({**base, "oracle": True}, env, log_file, args.timeout)
            if "skip" in info or "error" in info:
                why = info.get("skip") or info.get("error")
                notes.append(f"{coll}: skipped ({why})")
                print(f"{coll}: skipped ({why})", flush=True)
                continue
            colls[coll] = info
            print(f"{coll}: {info['n_docs']} docs, {info['n_queries']} queries, "
                  f"{info['query_nnz_mean']:.1f} terms/query, exhaustive postings/query "
                  f"{info['touched_mean']:.0f}; oracle {info['oracle_seconds']:.1f} s", flush=True)
            for engine in engines:
                if not pairs_apply(engine, coll):
                    continue
                builds = seismic_builds if engine == "seismic" else [None]
                for build in builds:
                    spec = {**base, "engine": engine, "threads": args.threads,
                            "budget": args.budget, "approx_grid": grid}
                    if build is not None:
                        spec["build"] = build
                    t0 = time.time()
                    out = run_worker(spec, env, log_file, args.timeout)
                    if "rows" in out:
                        rows.extend(out["rows"])
                        for r in out["rows"]:
                            print(f"  {engine:<15} {_setting(r):<34} mean "
                                  f"{r.get('mean_us', float('nan')):9.1f} us  acc@10 "
                                  f"{r.get('acc10', float('nan')):.3f}", flush=True)
                    else:
                        why = out.get("skip") or out.get("error")
                        kind = "skipped" if "skip" in out else "FAILED"
                        notes.append(f"{engine} on {coll}: {kind}: {why}")
                        print(f"  {engine:<15} {kind}: {why}", flush=True)
                    print(f"  ({engine}: {time.time() - t0:.0f} s)", file=sys.stderr)
    result = {"machine": machine, "args": {k: (str(v) if isinstance(v, Path) else v)
                                           for k, v in vars(args).items() if k != "worker"},
              "collections": colls, "rows": rows, "notes": notes,
              "seconds": time.time() - started}
    codes = sorted({r["lsr_code"] for r in rows if r.get("lsr_code")})
    if len(codes) > 1:
        notes.append(f"the lsr sources changed during the run ({', '.join(codes)}): rows "
                     "measured different code; see each row's lsr_code in the JSON")
    machine["git"] = git_state()
    add_floor(result)
    args.out.write_text(json.dumps(result, indent=1))
    print()
    print(format_table(result))
    targets = format_targets(result)
    if targets:
        print("\n" + targets)
    print(f"\nwrote {args.out} (worker log {log_path})")
    return 0


def _setting(row: dict) -> str:
    from bench.report import setting_label

    return setting_label(row)


if __name__ == "__main__":
    sys.exit(main())
