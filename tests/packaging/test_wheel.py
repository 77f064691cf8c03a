"""The wheel installs into a clean venv, ships every subpackage and data file, and the README's
first command works there without torch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "-w", str(out), str(ROOT)])
    (wheel,) = out.glob("lsr-*.whl")
    return wheel


def test_wheel_contains_mapped_packages_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("lsr/__init__.py", "lsr/index/__init__.py", "lsr/index/_kernels.py",
                     "lsr/eval/__init__.py", "lsr/train/__init__.py", "lsr/cli.py",
                     "lsr/data/sample/corpus.jsonl", "lsr/data/sample/queries.jsonl"):
        assert required in names, f"{required} missing from the wheel"
    # Every folder with an __init__.py in the mapped trees must be in the wheel.
    for folder, package in (("index", "lsr/index"), ("train", "lsr/train"),
                            ("eval", "lsr/eval"), ("lsr", "lsr")):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.relative_to(ROOT / folder).as_posix()
            assert f"{package}/{rel}" in names, f"{package}/{rel} missing from the wheel"
    assert not any("tests/" in n or "__pycache__" in n for n in names)


def test_clean_venv_imports_everything_and_runs_bm25_without_torch(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # Core dependencies only: the README's first command must not need torch or faiss.
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)])
    script = (
        "import importlib, pkgutil, sys, lsr\n"
        "mods = ['lsr']\n"
        "for sub in ('lsr.index', 'lsr.eval', 'lsr.train'):\n"
        "    m = importlib.import_module(sub); mods.append(sub)\n"
        "    mods += [i.name for i in pkgutil.walk_packages(m.__path__, sub + '.') if i.ispkg]\n"
        "assert 'torch' not in sys.modules and 'faiss' not in sys.modules\n"
        "print(' '.join(mods))\n"
    )
    proc = _run([str(py), "-c", script], cwd=tmp_path)
    assert "lsr.index" in proc.stdout and "lsr.eval" in proc.stdout
    import importlib.util

    has_torch = _run([str(py), "-c", "import importlib.util as u; "
                      "print(u.find_spec('torch') is not None)"]).stdout.strip()
    assert has_torch == "False"
    lsr_bin = env_dir / "bin" / "lsr"
    sample = _run([str(py), "-c", "import lsr, pathlib; "
                   "print(pathlib.Path(lsr.__file__).parent / 'data' / 'sample')"]).stdout.strip()
    env = {**os.environ, "LSR_NO_PROGRESS": "1"}
    _run([str(lsr_bin), "index", sample, "-o", str(tmp_path / "sample.lsr")], env=env)
    proc = _run([str(lsr_bin), "search", str(tmp_path / "sample.lsr"), "sparse retrieval"],
                env=env)
    assert re.search(r"^\s+1\s+\S+\s+\d+\.\d+", proc.stdout, re.M), proc.stdout
    assert importlib.util.find_spec("lsr") is not None


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    blocks = _readme_commands()
    assert len(blocks) >= 2, "README must open with the setup and the test command blocks"
    test_command = [ln for ln in blocks[1].splitlines() if ln and not ln.startswith("#")]
    ci = (ROOT / ".ci" / "run").read_text()
    for line in test_command:
        assert line in ci, f"README test command line not in .ci/run: {line}"
