"""BEIR loading and (offline, file://) downloading."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lsr.corpus import Document, sample_dataset
from lsr.errors import InputError, LsrError
from lsr.eval.beir import download_beir, load_beir


def make_dataset(folder: Path, *, extra_qrels: str = "") -> Path:
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": "d1", "title": "T", "text": "one"}, {"_id": "d2", "text": "two"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": q, "text": f"text {q}"} for q in ("q3", "q1", "q2")]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td1\t0\n" + extra_qrels)
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td2\t1\n")
    return folder


def test_load_beir_restricts_queries_to_the_split(tmp_path):
    data = load_beir(make_dataset(tmp_path / "toy"))
    assert data.name == "toy"
    assert data.corpus == [Document("d1", "one", "T"), Document("d2", "two")]
    assert data.queries == {"q1": "text q1", "q2": "text q2"}
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d1": 0}}
    assert load_beir(tmp_path / "toy", split="dev").queries == {"q3": "text q3"}


def test_load_beir_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist or is not a folder"):
        load_beir(tmp_path / "nope")
    folder = make_dataset(tmp_path / "toy", extra_qrels="q7\td1\t1\n")
    with pytest.raises(InputError, match=r"no qrels for split 'train'.*\['dev', 'test'\]"):
        load_beir(folder, split="train")
    with pytest.raises(InputError, match=r"1 judged query of .* not in queries.jsonl.*'q7'"):
        load_beir(folder)


def test_the_sample_dataset_is_a_valid_beir_folder():
    data = load_beir(sample_dataset())
    ids = {d.id for d in data.corpus}
    assert len(data.queries) == len(data.qrels)
    assert all(d in ids for docs in data.qrels.values() for d in docs)
    assert all(any(r > 0 for r in docs.values()) for docs in data.qrels.values())


def zip_dataset(source: Path, archive: Path, prefix: str) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, f"{prefix}{path.relative_to(source).as_posix()}")
    return archive


@pytest.mark.parametrize("prefix", ["toy/", ""])  # BEIR zips hold a toy/ folder; accept flat too
def test_download_beir_from_a_file_url(tmp_path, prefix):
    source = make_dataset(tmp_path / "src")
    served = tmp_path / "served"
    served.mkdir()
    zip_dataset(source, served / "toy.zip", prefix)
    template = served.as_uri() + "/{name}.zip"
    out = tmp_path / "datasets"
    path = download_beir("toy", out, url_template=template)
    assert path == out / "toy"
    assert load_beir(path).qrels == load_beir(source).qrels
    assert sorted(p.name for p in out.iterdir()) == ["toy"]  # no leftover staging folder
    (served / "toy.zip").unlink()
    assert download_beir("toy", out, url_template=template) == path  # present: no download


def test_download_beir_errors(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    template = served.as_uri() + "/{name}.zip"
    out = tmp_path / "out"
    with pytest.raises(LsrError, match="could not download .*missing.zip"):
        download_beir("missing", out, url_template=template)
    (served / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(LsrError, match="is not a valid zip file"):
        download_beir("broken", out, url_template=template)
    with zipfile.ZipFile(served / "empty.zip", "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(LsrError, match=r"does not contain empty/corpus.jsonl"):
        download_beir("empty", out, url_template=template)
    assert list(out.iterdir()) == []
    with pytest.raises(InputError, match="invalid BEIR dataset name"):
        download_beir("../etc", out, url_template=template)
    (out / "half").mkdir()
    with pytest.raises(InputError, match="exists but has no corpus.jsonl"):
        download_beir("half", out, url_template=template)
