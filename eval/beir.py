"""BEIR datasets: load a dataset folder, or download and unpack the official zip.

A BEIR folder holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/{split}.tsv``
(Thakur et al., "BEIR: A Heterogeneous Benchmark for Zero-shot Evaluation of Information
Retrieval Models", NeurIPS 2021 Datasets and Benchmarks).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lsr._progress import progress
from lsr.corpus import Document, read_corpus, read_queries
from lsr.errors import InputError, LsrError
from lsr.eval.run_file import read_qrels

logger = logging.getLogger(__name__)

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHUNK = 1 << 20


@dataclass
class BeirDataset:
    """One split of a BEIR dataset.

    corpus:  documents in file order
    queries: ``{query_id: text}``, only the queries judged in the split, in queries-file order
    qrels:   ``{query_id: {doc_id: relevance}}`` of the split (relevance-0 judgements kept)
    """

    name: str
    corpus: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Load ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/{split}.tsv`` from ``folder``.

    Like BEIR's ``GenericDataLoader``, queries are restricted to those judged in the split; a
    judged query missing from ``queries.jsonl`` is an error. Judged documents missing from the
    corpus are only logged (BEIR tolerates them; they can never be retrieved).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"BEIR dataset folder {folder} does not exist or is not a folder")
    qrels_file = folder / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise InputError(
            f"{folder} has no qrels for split {split!r} ({qrels_file} is missing); available "
            f"splits: {available or 'none'}"
        )
    corpus = read_corpus(folder / "corpus.jsonl")
    all_queries = read_queries(folder / "queries.jsonl")
    qrels = read_qrels(qrels_file)
    unknown = [q for q in qrels if q not in all_queries]
    if unknown:
        raise InputError(
            f"{len(unknown)} judged quer{'y' if len(unknown) == 1 else 'ies'} of {qrels_file} "
            f"are not in queries.jsonl, e.g. {unknown[:5]}"
        )
    queries = {q: text for q, text in all_queries.items() if q in qrels}
    doc_ids = {d.id for d in corpus}
    missing = sum(d not in doc_ids for docs in qrels.values() for d in docs)
    if missing:
        logger.warning("%d judged documents of %s are not in the corpus", missing, qrels_file)
    return BeirDataset(folder.name, corpus, queries, qrels)


def download_beir(
    name: str, out_dir: str | Path, *, url_template: str = BEIR_URL,
    show_progress: bool | None = None,
) -> Path:
    """Download and unzip the BEIR dataset ``name`` into ``out_dir / name``; return that path.

    An existing ``out_dir / name`` with a ``corpus.jsonl`` is returned without downloading. The
    zip is fetched and unpacked inside a temporary folder in ``out_dir`` and renamed into place,
    so an interrupted download never leaves a half-written dataset.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"invalid BEIR dataset name {name!r}; expected e.g. 'scifact'")
    out_dir = Path(out_dir)
    target = out_dir / name
    if (target / "corpus.jsonl").is_file():
        logger.info("%s already exists, not downloading", target)
        return target
    if target.exists():
        raise InputError(
            f"{target} exists but has no corpus.jsonl; remove it and download again"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    url = url_template.format(name=name)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{name}.download-"))
    try:
        archive = staging / f"{name}.zip"
        _fetch(url, archive, show_progress)
        unpacked = staging / "unpacked"
        _unzip(archive, unpacked, url)
        root = _dataset_root(unpacked, name, url)
        try:
            os.replace(root, target)
        except OSError:
            if (target / "corpus.jsonl").is_file():  # another process finished first
                return target
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("downloaded %s to %s", url, target)
    return target


def _fetch(url: str, dest: Path, show_progress: bool | None) -> None:
    try:
        with urllib.request.urlopen(url) as response, open(dest, "wb") as handle:
            total = response.headers.get("Content-Length")
            total_chunks = -(-int(total) // _CHUNK) if total and total.isdigit() else None
            chunks = iter(lambda: response.read(_CHUNK), b"")
            for chunk in progress(chunks, total=total_chunks, desc=dest.name, unit="MB",
                                  show=show_progress):
                handle.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LsrError(f"could not download {url}: {reason}") from exc


def _unzip(archive: Path, dest: Path, url: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                parts = Path(member).parts
                if Path(member).is_absolute() or ".." in parts:
                    raise LsrError(f"refusing to unpack {url}: unsafe path {member!r} in the zip")
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise LsrError(f"{url} is not a valid zip file: {exc}") from exc


def _dataset_root(unpacked: Path, name: str, url: str) -> Path:
    """The folder of the zip that holds ``corpus.jsonl``: ``name/`` (BEIR's layout) or the top."""
    for candidate in (unpacked / name, unpacked):
        if (candidate / "corpus.jsonl").is_file():
            return candidate
    entries = [p.name for p in unpacked.iterdir()] if unpacked.is_dir() else []
    raise LsrError(f"{url} does not contain {name}/corpus.jsonl (top-level entries: {entries})")
