"""The notebooks run top to bottom against a small generated warehouse, so they cannot go stale."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import nbformat
import pytest
from conftest import copy_data_dir
from nbclient import NotebookClient

from pipelines.resources import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo(demo_set, tmp_path_factory) -> Path:
    """A copy of the session's demo set: the test opens it as a writer, which other workers' readers would block."""
    return copy_data_dir(demo_set, tmp_path_factory.mktemp("notebooks") / "data", "reports")


def test_the_two_notebooks_exist_and_are_committed_without_outputs():
    assert {p.stem for p in NOTEBOOKS} >= {"explore_wave", "compare_leagues"}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        source = "\n".join(c.source for c in code)
        assert "read_only=True" in source and "JIANFU_DATA_DIR" in source and "with duckdb.connect" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_a_generated_warehouse(path, demo, monkeypatch):
    monkeypatch.setenv("JIANFU_DATA_DIR", str(demo))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type in ("execute_result", "display_data") for o in outputs)
    with duckdb.connect(str(demo / "warehouse.duckdb")) as conn:
        assert conn.sql("select count(*) from marts.area_metrics").fetchall()[0][0] > 0, (
            "the kernel left no lock behind: a writer can open the warehouse"
        )


def test_make_notebooks_starts_jupyterlab_from_the_venv_on_the_data_dir(tmp_path):
    import subprocess
    import sys

    outer_make = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if k not in outer_make}
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "notebooks", f"DATA_DIR={tmp_path}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert plan.returncode == 0, plan.stderr
    command = plan.stdout.strip().splitlines()[-1]
    assert command == f"JIANFU_DATA_DIR={tmp_path} .venv/bin/jupyter lab --notebook-dir={REPO_ROOT}/notebooks"
    jupyter = Path(sys.executable).with_name("jupyter")
    version = subprocess.run([str(jupyter), "lab", "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    pinned = next(line for line in (REPO_ROOT / "pyproject.toml").read_text().splitlines() if '"jupyterlab==' in line)
    assert pinned.strip().strip('",') == f"jupyterlab=={version.stdout.strip()}"
