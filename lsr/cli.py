"""The ``lsr`` command: ``index``, ``search`` and ``eval``.

Results go to stdout, logs and progress bars to stderr. Every deliberate failure (bad input,
damaged index, missing dependency) ends with a one-line message and exit status 2; ``main``
takes ``argv`` so the CLI is tested in-process.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from lsr.errors import LsrError

logger = logging.getLogger("lsr")

DEFAULT_ENCODER = "bm25"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _encoder_options(args: argparse.Namespace, encoder: str) -> dict:
    options = {}
    if getattr(args, "max_length", None) is not None:
        if encoder.lower() == "bm25":
            logger.warning("--max-length does not apply to BM25; ignored")
        else:
            options["max_length"] = args.max_length
    return options


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lsr", description="Learned sparse retrieval: index, search and evaluate.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="encode a corpus and build an index")
    p.add_argument("corpus", help="BEIR corpus.jsonl, a BEIR dataset folder, or id<TAB>text TSV")
    p.add_argument("-o", "--output", required=True, help="index directory to write")
    p.add_argument("--encoder", default=DEFAULT_ENCODER,
                   help="'bm25' (default), a model folder or hub id, or KIND:PATH with KIND "
                        "in splade, inference-free, dense")
    p.add_argument("--batch-size", type=_positive_int, help="encoder batch size")
    p.add_argument("--max-length", type=_positive_int, help="max tokens per document")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8,
                   help="impact quantization bits (default 8)")
    p.add_argument("--chunk-size", type=_positive_int, default=4096,
                   help="documents encoded per chunk (bounds memory)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing index")
    _add_approx_build_args(p)

    p = sub.add_parser("search", help="search an index with a query or a queries file")
    p.add_argument("index", help="index directory")
    p.add_argument("query", nargs="?", help="free-text query (or use --queries)")
    p.add_argument("--queries", help="queries.jsonl or qid<TAB>text TSV: writes a TREC run")
    p.add_argument("-o", "--output", help="run file to write (with --queries)")
    p.add_argument("-k", type=_positive_int, default=None,
                   help="hits per query (default 10 for a query, 1000 for --queries)")
    p.add_argument("--encoder", help="override the query encoder recorded in the index")
    p.add_argument("--threads", type=_positive_int, help="search threads (default: all cores)")
    _add_search_args(p)

    p = sub.add_parser("eval", help="index, search and score a BEIR dataset")
    p.add_argument("dataset", help="BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--encoder", default=DEFAULT_ENCODER, help="as for `lsr index`")
    p.add_argument("--split", default="test", help="qrels split (default test)")
    p.add_argument("-o", "--output", help="output folder (default runs/DATASET-ENCODER)")
    p.add_argument("-k", type=_positive_int, default=1000, help="run depth (default 1000)")
    p.add_argument("--batch-size", type=_positive_int, help="encoder batch size")
    p.add_argument("--max-length", type=_positive_int, help="max tokens per document")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8,
                   help="impact quantization bits (default 8)")
    p.add_argument("--rebuild", action="store_true", help="rebuild even if an index exists")
    p.add_argument("--threads", type=_positive_int, help="search threads")
    _add_approx_build_args(p)
    _add_search_args(p)
    return parser


def _add_approx_build_args(p: argparse.ArgumentParser) -> None:
    from lsr.index.approx import ApproxConfig

    d = ApproxConfig()
    g = p.add_argument_group("approximate search structures (sparse encoders)")
    g.add_argument("--approx", action="store_true",
                   help="also build the structures of --mode approx search")
    g.add_argument("--n-postings", type=_positive_int, default=d.n_postings,
                   help=f"postings kept per term (default {d.n_postings})")
    g.add_argument("--block-size", type=_positive_int, default=d.block_size,
                   help=f"documents per block (default {d.block_size})")
    g.add_argument("--summary-energy", type=float, default=d.summary_energy,
                   help=f"fraction of a block summary's mass kept (default {d.summary_energy})")


def _approx_config(args: argparse.Namespace):
    if not args.approx:
        return None
    from lsr.index.approx import ApproxConfig

    return ApproxConfig(n_postings=args.n_postings, block_size=args.block_size,
                        summary_energy=args.summary_energy)


def _add_search_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("search mode (sparse indexes)")
    g.add_argument("--mode", choices=("exact", "approx"), default="exact",
                   help="exact (default) or approx (needs an index built with --approx)")
    g.add_argument("--algorithm", choices=("auto", "exhaustive", "maxscore", "blockmax"),
                   default="auto", help="exact search algorithm (default auto)")
    g.add_argument("--query-cut", type=_positive_int, default=10,
                   help="approx: query terms used to select blocks (default 10)")
    g.add_argument("--heap-factor", type=float, default=0.9,
                   help="approx: score a block when bound x factor beats the k-th (default 0.9)")


def _search_options(args: argparse.Namespace) -> dict:
    """``index.search`` keyword arguments from --mode/--algorithm/--query-cut/--heap-factor;
    empty for the defaults, which every index kind accepts."""
    if args.mode == "approx":
        return {"mode": "approx", "query_cut": args.query_cut, "heap_factor": args.heap_factor}
    return {} if args.algorithm == "auto" else {"algorithm": args.algorithm}


def _cmd_index(args: argparse.Namespace, show_progress: bool | None) -> int:
    from lsr.corpus import iter_corpus
    from lsr.encoders import load_encoder
    from lsr.index.build import index_corpus

    corpus = Path(args.corpus)
    # Read the corpus once up front so that malformed input fails before any encoding.
    count = sum(1 for _ in iter_corpus(corpus))
    encoder = load_encoder(args.encoder, **_encoder_options(args, args.encoder))
    index, stats = index_corpus(lambda: iter_corpus(corpus), args.output, encoder,
                                batch_size=args.batch_size, chunk_size=args.chunk_size,
                                bits=args.bits, overwrite=args.overwrite,
                                show_progress=show_progress, approx=_approx_config(args))
    sys.stdout.write(
        f"indexed {count} documents into {args.output} in {stats.total_seconds:.1f}s "
        f"({stats.docs_per_second:.1f} docs/s encoding, {index.nbytes / 1e6:.1f} MB)\n")
    return 0


def _query_encoder(index, override: str | None):
    if override is None:
        return index.query_encoder()
    from lsr.encoders import load_encoder

    encoder = load_encoder(override)
    if hasattr(index, "check_encoder"):
        index.check_encoder(encoder)
    return encoder


def _cmd_search(args: argparse.Namespace, show_progress: bool | None) -> int:
    from lsr.errors import InputError
    from lsr.index.build import load_any_index

    if (args.query is None) == (args.queries is None):
        raise InputError("give either a query string or --queries FILE (not both, not neither)")
    if args.queries is not None and args.output is None:
        raise InputError("--queries needs -o RUN_FILE to write the TREC run to")
    index = load_any_index(args.index)
    options = _search_options(args)
    if options and not hasattr(index, "has_approx"):
        raise InputError("--mode/--algorithm apply to sparse indexes only")
    encoder = _query_encoder(index, args.encoder)
    if args.query is not None:
        k = args.k or 10
        if not args.query.strip():
            raise InputError("the query is empty; pass some text to search for")
        result = index.search(encoder.encode_queries([args.query]), k=k, threads=args.threads,
                              **options)
        hits = result.hits(0)
        if not hits:
            sys.stdout.write("no document matches this query\n")
            return 0
        titles = index.titles
        width = max(len(doc_id) for doc_id, _ in hits)
        for rank, (j, (doc_id, score)) in enumerate(zip(result.indices[0], hits), start=1):
            title = titles[int(j)] if titles is not None else ""
            if len(title) > 70:
                title = title[:67] + "..."
            sys.stdout.write(f"{rank:>3}  {doc_id:<{width}}  {score:9.4f}  {title}\n")
        return 0
    from lsr.corpus import read_queries
    from lsr.eval.run_file import write_trec_run

    queries = read_queries(args.queries)
    qids = list(queries)
    vectors = encoder.encode_queries([queries[q] for q in qids], show_progress=show_progress)
    result = index.search(vectors, k=args.k or 1000, threads=args.threads, **options)
    write_trec_run(args.output, result.to_run(qids), tag="lsr")
    sys.stdout.write(f"wrote {len(qids)} queries x up to {args.k or 1000} hits to "
                     f"{args.output}\n")
    return 0


def format_report(report) -> str:
    """The table ``lsr eval`` prints."""
    rows = [(name, f"{value:.4f}") for name, value in report.metrics.items()]
    dps = report.encode_docs_per_second
    rows += [
        ("documents", f"{report.num_docs}"),
        ("queries", f"{report.num_queries}"),
        ("index size", f"{report.index_bytes / 1e6:.2f} MB"),
        ("avg doc non-zeros", f"{report.avg_doc_nnz:.1f}"),
        ("avg query non-zeros", f"{report.avg_query_nnz:.1f}"),
        ("encode docs/s", "reused index" if dps is None else f"{dps:.1f}"),
        ("encode queries/s", f"{report.encode_queries_per_second:.1f}"),
        ("search ms/query (1 thread)",
         f"mean {report.search_ms_mean:.3f}, p50 {report.search_ms_p50:.3f}, "
         f"p99 {report.search_ms_p99:.3f}"),
        ("run file", report.run_path),
        ("metrics file", report.metrics_path),
    ]
    width = max(len(name) for name, _ in rows)
    header = f"{report.dataset} ({report.split}) - encoder {report.encoder.get('kind', '?')}"
    lines = [header, "-" * len(header)]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines) + "\n"


def _cmd_eval(args: argparse.Namespace, show_progress: bool | None) -> int:
    from lsr.eval.pipeline import evaluate_encoder

    report = evaluate_encoder(
        args.dataset, args.encoder, split=args.split, out_dir=args.output, k=args.k,
        encoder_options=_encoder_options(args, args.encoder), batch_size=args.batch_size,
        bits=args.bits, rebuild=args.rebuild, threads=args.threads, show_progress=show_progress,
        approx=_approx_config(args), search_options=_search_options(args))
    sys.stdout.write(format_report(report))
    return 0


COMMANDS = {"index": _cmd_index, "search": _cmd_search, "eval": _cmd_eval}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input or damaged index)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    show_progress = False if args.no_progress else None
    try:
        return COMMANDS[args.command](args, show_progress)
    except (LsrError, FileExistsError, FileNotFoundError) as exc:
        sys.stderr.write(f"lsr {args.command}: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
