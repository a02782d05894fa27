"""Measures the whole pipeline on a generated set: wall time per stage and peak memory, and
how often county intervals cover the generator's true values (pipelines.synthetic.coverage).

Run with `make benchmark` (or `python -m pipelines.synthetic.benchmark --teachers 50000 --waves 6`,
`--coverage-seeds 80`, `--coverage-only`); figures go to stdout as JSON and belong in the
README, not in timed tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import dagster as dg

from pipelines.cli import generate_into
from pipelines.synthetic.coverage import coverage
from pipelines.runner import run_pipeline


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(teachers: int, waves: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        manifest = generate_into(data_dir, teachers, waves, seed)
        generated = time.perf_counter()
        stamps: list[tuple[str, float]] = []
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(),
                     echo=lambda line: stamps.append((line, time.perf_counter())))
        finished = time.perf_counter()
        rerun_started = time.perf_counter()
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(), echo=lambda _: None)
        rerun = time.perf_counter() - rerun_started
        rows = sum(c["rows"] for per_wave in manifest["counts"].values() for c in per_wave.values())
        warehouse_mb = (data_dir / "warehouse.duckdb").stat().st_size / 2**20
        reports_mb = sum(p.stat().st_size for p in (data_dir / "reports").rglob("*") if p.is_file()) / 2**20
    return {
        "teachers_per_wave": teachers, "waves": waves, "landing_rows": rows,
        "generate_s": round(generated - started, 1), "pipeline_s": round(finished - generated, 1),
        "rerun_unchanged_s": round(rerun, 1), "rows_per_s": round(rows / (finished - generated)),
        "peak_rss_mb": round(peak_rss_mb()), "warehouse_mb": round(warehouse_mb, 1),
        "reports_mb": round(reports_mb, 1),
        "progress": [(line, round(t - generated, 1)) for line, t in stamps],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, default=6000)
    parser.add_argument("--waves", type=int, default=6)
    parser.add_argument("--seed", type=int, default=20201021)
    parser.add_argument("--coverage-seeds", type=int, default=80, help="generator seeds of the coverage simulation")
    parser.add_argument("--coverage-only", action="store_true", help="skip the timing, run the simulation only")
    args = parser.parse_args()
    figures = {} if args.coverage_only else measure(args.teachers, args.waves, args.seed)
    if args.coverage_seeds > 0:
        started = time.perf_counter()
        figures["county_coverage"] = coverage(args.coverage_seeds, args.teachers)
        figures["coverage_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
