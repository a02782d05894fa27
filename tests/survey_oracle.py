"""Run R's survey package as the independent oracle of the marts' design-based statistics.

The oracle must be able to fail the build: where the `CI` environment variable is set, a
missing Rscript (or survey package) is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

R_DIR = Path(__file__).parent / "r"


def rscript() -> str:
    """The Rscript binary with library(survey) loadable; skips locally, fails under CI, when absent."""
    found = shutil.which("Rscript")
    problem = None
    if found is None:
        problem = "Rscript is not installed (Debian: apt-get install r-base-core r-cran-survey)"
    else:
        probe = subprocess.run([found, "-e", "library(survey)"], capture_output=True, text=True)
        if probe.returncode != 0:
            problem = "R's survey package is not installed (Debian: apt-get install r-cran-survey)"
    if problem and os.environ.get("CI"):
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)
    return found


def run_oracle(script: str, workdir: Path, inputs: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Write `inputs` as CSV into workdir, run tests/r/<script> on it, return its out.csv."""
    binary = rscript()
    workdir.mkdir(parents=True, exist_ok=True)
    for name, frame in inputs.items():
        frame.write_csv(workdir / f"{name}.csv", null_value="NA")
    done = subprocess.run([binary, str(R_DIR / script), str(workdir)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return pl.read_csv(
        workdir / "out.csv",
        null_values=["NA", "NaN"],
        infer_schema_length=None,
        schema_overrides=dict.fromkeys(("area_level", "area_code", "metric", "wave"), pl.String),
    )
