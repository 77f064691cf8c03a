"""``load_encoder`` picks the right encoder for the real model folders."""

from __future__ import annotations

import json
from pathlib import Path

from lsr.encoders import detect_kind, load_encoder


def test_splade_folder(splade_tiny_dir: Path):
    from lsr.encoders.splade import SpladeEncoder

    assert detect_kind(str(splade_tiny_dir)) == "splade"
    enc = load_encoder(str(splade_tiny_dir), max_length=32)
    assert type(enc) is SpladeEncoder and enc.max_length == 32


def test_sentence_transformers_folder(minilm_dir: Path):
    from lsr.encoders.dense import TransformerDenseEncoder

    assert detect_kind(str(minilm_dir)) == "dense"
    assert type(load_encoder(str(minilm_dir))) is TransformerDenseEncoder


def test_folder_with_idf_json_is_inference_free(tmp_path: Path, splade_tiny_dir: Path):
    from lsr.encoders.inference_free import InferenceFreeEncoder

    model = tmp_path / "doc-model"
    model.mkdir()
    for source in splade_tiny_dir.iterdir():  # symlinks: the model is never copied
        (model / source.name).symlink_to(source)
    (model / "idf.json").write_text(json.dumps({"sparse": 3.0, "retrieval": 2.0}))
    assert detect_kind(str(model)) == "inference-free"
    enc = load_encoder(str(model), max_length=32)
    assert type(enc) is InferenceFreeEncoder and not enc.needs_fit
    assert enc.encode_queries(["sparse retrieval"]).to_dicts(enc.vocab) == [
        {"sparse": 3.0, "retrieval": 2.0}
    ]
    assert load_encoder(f"splade:{model}").kind == "splade"
