"""Machine facts, memory bandwidth, and the printed table of ``bench_search.py``."""

from __future__ import annotations

import os
import subprocess
import time
from importlib import metadata

import numpy as np

PACKAGES = ("numpy", "scipy", "numba", "pyseismic-lsr", "pyterrier-pisa", "bm25s",
            "sparse-dot-topn")


def machine_info() -> dict:
    info = {"cpu": "unknown", "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info["cpu"] = fields.get("Model name", "unknown")
        info["cores"] = int(fields.get("CPU(s)", info["cores"]))
        info["threads_per_core"] = fields.get("Thread(s) per core")
        info["l3"] = fields.get("L3 cache")
        flags = fields.get("Flags", "").split()
        info["simd"] = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags]
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    info["versions"] = versions
    info["load_avg"] = os.getloadavg()
    return info


def memory_bandwidth(nbytes: int = 1 << 30, repeats: int = 5) -> float:
    """Bytes/s of a single-threaded NumPy read-sum over ``nbytes`` (best of ``repeats``)."""
    a = np.ones(nbytes // 8, dtype=np.float64)
    a.sum()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t0)
    del a
    return nbytes / best


def setting_label(row: dict) -> str:
    parts = []
    if row["engine"] == "seismic":
        b = row.get("build", {})
        parts.append(f"np={b.get('n_postings')} cf={b.get('centroid_fraction')} "
                     f"se={b.get('summary_energy')}")
    s = row.get("setting") or {}
    if "query_cut" in s:
        parts.append(f"qc={s['query_cut']} hf={s['heap_factor']}")
    parts.extend(f"{k}={v}" for k, v in s.items() if k not in ("query_cut", "heap_factor"))
    return " ".join(parts) or "-"


def _f(value, fmt: str, width: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-".rjust(width)
    return format(value, fmt).rjust(width)


COLUMNS = [
    # header, width, key or function, format
    ("build s", 8, "build_s", ".2f"),
    ("MB", 8, lambda r: r["index_bytes"] / 1e6 if r.get("index_bytes") else None, ".1f"),
    ("B/post", 6, "bytes_per_posting", ".2f"),
    ("mean us", 9, "mean_us", ".1f"),
    ("p50 us", 9, "p50_us", ".1f"),
    ("p99 us", 9, "p99_us", ".1f"),
    ("QPS 1t", 8, "qps_1t", ".0f"),
    ("QPSb 1t", 8, "qps_batch_1t", ".0f"),
    ("QPSb 2t", 8, "qps_batch_2t", ".0f"),
    ("acc@10", 6, "acc10", ".3f"),
    ("acc own", 7, "acc10_own", ".3f"),
    ("RSS MB", 7, "peak_rss_mb", ".0f"),
    ("touched", 9, "touched_mean", ".0f"),
    ("floor us", 8, "floor_us", ".1f"),
    ("enc us", 7, "encode_us", ".1f"),
]


def add_floor(result: dict) -> None:
    """``floor_us`` = touched postings x bytes per posting / measured bandwidth, per row."""
    bw = result["machine"].get("bandwidth_gbs", 0.0) * 1e9
    for r in result["rows"]:
        if r.get("bytes_per_posting") and bw:
            r["floor_us"] = r["touched_mean"] * r["bytes_per_posting"] / bw * 1e6


def format_table(result: dict) -> str:
    m = result["machine"]
    bw = m.get("bandwidth_gbs", 0.0)
    lines = [f"# {m['cpu']}, {m['cores']} cores ({m.get('threads_per_core')} thread/core), "
             f"L3 {m.get('l3')}, SIMD {','.join(m.get('simd', []))}; memory read "
             f"{bw:.1f} GB/s; load avg at start {m['load_avg'][0]:.2f}",
             "# lsr " + str(m.get("git")) + "; "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)]
    for name, c in result["collections"].items():
        lines.append(f"# {name}: {c['n_docs']} docs, {c['doc_nnz']} non-zeros, {c['n_queries']} "
                     f"queries x {c['query_nnz_mean']:.1f} terms; {c.get('source')}")
    head = f"{'collection':<11} {'engine':<15} {'setting':<34}" + "".join(
        f" {h:>{w}}" for h, w, _, _ in COLUMNS)
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        cells = []
        for _, width, key, fmt in COLUMNS:
            value = key(r) if callable(key) else r.get(key)
            cells.append(_f(value, fmt, width))
        lines.append(f"{r['collection']:<11} {r['engine']:<15} {setting_label(r):<34} "
                     + " ".join(cells))
    if result.get("notes"):
        lines.append("")
        lines += [f"note: {n}" for n in result["notes"]]
    lines.append("touched = exhaustive postings per query (sum of the query terms' document "
                 "frequencies) for every engine; floor = touched x B/post / bandwidth.")
    return "\n".join(lines)


def _best(rows, engines, min_acc=None):
    """The row with the lowest mean latency among ``engines`` (at accuracy >= ``min_acc``)."""
    cands = [r for r in rows if r["engine"] in engines and r.get("mean_us")
             and (min_acc is None or (r.get("acc10") or 0) >= min_acc)]
    return min(cands, key=lambda r: r["mean_us"]) if cands else None


def format_targets(result: dict, min_acc: float = 0.95) -> str:
    """The issue's targets as ratios from this run (lower is better for us)."""
    lines = ["targets (ratios from this run; < 1 means lsr is ahead):"]
    exact = ("lsr-exact", "lsr-maxscore", "lsr-blockmax", "lsr-auto")
    for coll in result["collections"]:
        rows = [r for r in result["rows"] if r["collection"] == coll]
        ours, pisa = _best(rows, exact), _best(rows, ("pisa-maxscore",))
        if ours and pisa:
            lines.append(f"  {coll:<11} exact: best lsr ({ours['engine']}) "
                         f"{ours['mean_us']:.0f} us / PISA MaxScore {pisa['mean_us']:.0f} us "
                         f"= {ours['mean_us'] / pisa['mean_us']:.2f}")
        ours, seis = _best(rows, ("lsr-approx",), min_acc), _best(rows, ("seismic",), min_acc)
        if ours and seis:
            lines.append(
                f"  {coll:<11} approx at acc@10 >= {min_acc}: lsr {ours['mean_us']:.0f} us "
                f"({setting_label(ours)}, {ours['acc10']:.3f}) / Seismic {seis['mean_us']:.0f} "
                f"us ({setting_label(seis)}, {seis['acc10']:.3f}) = "
                f"{ours['mean_us'] / seis['mean_us']:.2f}; build {ours['build_s']:.1f} / "
                f"{seis['build_s']:.1f} s = {ours['build_s'] / seis['build_s']:.2f}; size "
                + (f"{ours['index_bytes'] / seis['index_bytes']:.2f}"
                   if ours.get("index_bytes") and seis.get("index_bytes") else "-"))
        elif ours or seis:
            lines.append(f"  {coll:<11} approx: only {'lsr' if ours else 'Seismic'} reaches "
                         f"acc@10 >= {min_acc} in this sweep")
    rows = result["rows"]
    ifq = _best(rows, ("lsr-if-text",))
    for name in ("bm25s", "lsr-bm25"):
        bm25 = _best(rows, (name,))
        if ifq and bm25:
            lines.append(f"  inference-free end to end {ifq['mean_us']:.0f} us / {name} "
                         f"{bm25['mean_us']:.0f} us = {ifq['mean_us'] / bm25['mean_us']:.2f} "
                         "(target <= 1.1)")
    return "\n".join(lines) if len(lines) > 1 else ""
