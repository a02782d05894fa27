"""`make bench`: the pipeline against a bare DuckDB baseline on the same landing files.

One run generates a landing set (`jianfu generate`), then measures, each as a subprocess:
- the pipeline: `jianfu run` on a fresh data directory holding those files (hard links);
- the baseline: `create table` from the teacher CSV into a file database, then one
  `group by` wave x league x level over every numeric column (league by a join to the
  school register);
- a rerun of the pipeline on the unchanged files;
- the ingest alone (reference and every landing file into a fresh warehouse, no Dagster), whose
  peak RSS is the reader's, apart from the staging, checks and site of the whole run.
Wall time, CPU seconds and peak RSS of each process tree (the process and all its descendants,
polled) are printed as JSON, with the peak RSS of each Dagster step of the pipeline run and the
DuckDB memory limit it ran with, and written to `--out`, with the ratio pipeline / baseline. `--scaling`
repeats this for a series of sizes. `--coverage-only` runs the county-interval coverage
simulation (pipelines.synthetic.coverage) instead. Figures belong in the README, never in
timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from pipelines.catalogue.rules import SOURCES
from pipelines.resources import default_memory_limit
from pipelines.synthetic.spec import DEFAULT_SEED, HOURS_COLUMNS, ITEM_COLUMNS, TEACHER_COUNT_COLUMNS, TEACHER_SURVEY

SCALING_SIZES = (200_000, 2_000_000, 13_000_000)
BYTES_PER_ROW = 210
"""About what a generated teacher row takes in CSV: used to skip sizes the disk cannot hold."""
POLL_SECONDS = 0.05
STEPS_SHOWN = 12
"""The Dagster steps with the highest peak RSS that the JSON lists for the pipeline run."""
NUMERIC_COLUMNS = [
    *HOURS_COLUMNS,
    *TEACHER_COUNT_COLUMNS,
    "training_hours_nonteaching",
    *ITEM_COLUMNS,
    "felt_change",
    "focus_on_teaching",
]
BASELINE = textwrap.dedent("""
    import sys, duckdb
    database, files, schools, divisions, query = sys.argv[1:6]
    conn = duckdb.connect(database)
    conn.execute("create table teacher_survey as select * from read_csv($files, all_varchar = true, "
                 "union_by_name = true)", {"files": files.split("\\n")})
    conn.execute("create table schools as select * from read_csv($path, all_varchar = true)", {"path": schools})
    conn.execute("create table divisions as select * from read_csv($path, all_varchar = true)", {"path": divisions})
    print(len(conn.execute(query).fetchall()))
""")


INGEST = textwrap.dedent("""
    import sys
    from pipelines.catalogue.rules import SOURCES
    from pipelines.resources import REFERENCE_FILES, JianfuResource
    from pipelines.warehouse.tables import load_reference, sync_landing
    jianfu = JianfuResource(data_dir=sys.argv[1])
    with jianfu.connect() as conn:
        load_reference(conn, {name: jianfu.reference_path(name) for name in REFERENCE_FILES})
        for source in SOURCES:
            sync_landing(conn, jianfu.landing_dir, source, jianfu.pseudonym_key(), mappings_dir=jianfu.mappings_dir)
        print(conn.execute("select sum(rows_read) from landing.files").fetchone()[0])
""")


def baseline_query() -> str:
    """wave x league x level: count, and mean of every numeric contract column read as a number."""
    means = ",\n  ".join(f"avg(try_cast(t.{c} as double)) as {c}" for c in NUMERIC_COLUMNS)
    return (
        "select t.wave, d.parent_code as league, t.school_level, count(*) as n,\n  " + means + "\n"
        "from teacher_survey t\njoin schools s on s.school_code = t.school_code\n"
        "join divisions d on d.code = s.county_code\ngroup by all order by all"
    )


def measured(
    command: list[str], env: dict | None = None, timeout: float | None = None, timeline: list | None = None
) -> dict:
    """Wall time, peak RSS and CPU seconds (user + system) summed over the process and its descendants,
    polled until it exits; `timeline` (if given) receives (epoch seconds, RSS bytes) per poll."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    root, peak, timed_out = psutil.Process(process.pid), 0, False
    cpu: dict[int, float] = {}
    while process.poll() is None:
        rss = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                rss += member.memory_info().rss
                times = member.cpu_times()
                cpu[member.pid] = times.user + times.system
        except psutil.Error:
            pass
        peak = max(peak, rss)
        if timeline is not None:
            timeline.append((time.time(), rss))
        if timeout and time.perf_counter() - started > timeout:
            for member in [*root.children(recursive=True), root]:
                member.kill()
            timed_out = True
            break
        time.sleep(POLL_SECONDS)
    stdout, stderr = process.communicate()
    result = {
        "wall_s": round(time.perf_counter() - started, 3),
        "peak_rss_mb": round(peak / 2**20),
        "cpu_s": round(sum(cpu.values()), 1),
        "exit_code": process.returncode,
    }
    if timed_out:
        result["timed_out"] = True
    if process.returncode:
        result["error"] = (stderr.strip().splitlines() or [""])[-1][:200]
    return result | {"stdout_tail": stdout.strip().splitlines()[-1:] if stdout.strip() else []}


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "JIANFU_DATA_DIR"}}
    return {**env, "JIANFU_ID_KEY": env.get("JIANFU_ID_KEY", "bench-key")}


def _jianfu() -> str:
    return str(Path(sys.executable).with_name("jianfu"))


def step_memory(data_dir: Path, timeline: list[tuple[float, int]]) -> list[dict]:
    """Each Dagster step of the runs in data_dir's instance: its job, seconds and the peak RSS of the
    process tree while it ran, from the polled timeline; the largest first."""
    import dagster as dg

    from pipelines.resources import PROJECT_DIR

    previous = os.environ.get("JIANFU_DAGSTER_STORAGE")
    os.environ["JIANFU_DAGSTER_STORAGE"] = str(data_dir / "dagster")
    try:
        instance = dg.DagsterInstance.from_config(str(PROJECT_DIR))
        steps = []
        for record in instance.get_run_records():
            started: dict[str, float] = {}
            for entry in instance.all_logs(record.dagster_run.run_id):
                event = entry.dagster_event
                if event is None or event.step_key is None:
                    continue
                if event.event_type_value == "STEP_START":
                    started[event.step_key] = entry.timestamp
                elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
                    begin, end = started[event.step_key], entry.timestamp
                    peak = max((rss for at, rss in timeline if begin <= at <= end), default=0)
                    steps.append(
                        {
                            "job": record.dagster_run.job_name,
                            "step": event.step_key,
                            "seconds": round(end - begin, 1),
                            "peak_rss_mb": round(peak / 2**20),
                        }
                    )
        instance.dispose()
    finally:
        if previous is None:
            os.environ.pop("JIANFU_DAGSTER_STORAGE", None)
        else:
            os.environ["JIANFU_DAGSTER_STORAGE"] = previous
    return sorted(steps, key=lambda s: -s["peak_rss_mb"])


def _pipeline_dir(landing_set: Path, target: Path) -> None:
    """A fresh data directory with the generated landing and reference files (hard links where possible)."""
    for source in SOURCES:
        (target / "landing" / source).mkdir(parents=True, exist_ok=True)
        for path in (landing_set / "landing" / source).iterdir():
            try:
                os.link(path, target / "landing" / source / path.name)
            except OSError:
                shutil.copy2(path, target / "landing" / source / path.name)
    shutil.copytree(landing_set / "reference", target / "reference")


def compare(
    teachers: int,
    waves: int,
    seed: int,
    workdir: Path,
    timeout: float | None = None,
    pdfs: bool = False,
    memory_limit: str = "",
) -> dict:
    """One size: generate, then pipeline, baseline and rerun on the same files. The report PDFs
    (chromium, about 3 s a page whatever the data size) are printed only with `pdfs`; `memory_limit`
    (empty: the resource's default) is DuckDB's for the pipeline's connections."""
    env = {**_clean_env(), "JIANFU_REPORT_PDFS": "1" if pdfs else "0"}
    if memory_limit:
        env["JIANFU_DUCKDB_MEMORY_LIMIT"] = memory_limit
    landing_set = workdir / "generated"
    generate = measured(
        [
            _jianfu(),
            "generate",
            "--out",
            str(landing_set),
            "--teachers",
            str(teachers),
            "--waves",
            str(waves),
            "--seed",
            str(seed),
        ],
        env,
        timeout,
    )
    manifest = json.loads((landing_set / "manifest.json").read_text(encoding="utf-8"))
    folder = landing_set / "landing" / TEACHER_SURVEY
    csv_files = sorted(
        str(folder / name)
        for name in manifest["files"][TEACHER_SURVEY]
        if name.endswith(".csv") and _is_utf8(folder / name)
    )
    data_dir = workdir / "pipeline"
    _pipeline_dir(landing_set, data_dir)
    timeline: list[tuple[float, int]] = []
    pipeline = measured([_jianfu(), "run", "--data-dir", str(data_dir)], env, timeout, timeline)
    pipeline["steps"] = step_memory(data_dir, timeline)[:STEPS_SHOWN]
    rerun = measured([_jianfu(), "run", "--data-dir", str(data_dir)], env, timeout)
    ingest_dir = workdir / "ingest"
    _pipeline_dir(landing_set, ingest_dir)
    ingest = measured([sys.executable, "-c", INGEST, str(ingest_dir)], env, timeout)
    reference = landing_set / "reference"
    baseline = measured(
        [
            sys.executable,
            "-c",
            BASELINE,
            str(workdir / "baseline.duckdb"),
            "\n".join(csv_files),
            str(reference / "schools.csv"),
            str(reference / "divisions.csv"),
            baseline_query(),
        ],
        env,
        timeout,
    )
    rows = sum(c["rows"] for c in manifest["counts"][TEACHER_SURVEY].values())
    landing_mb = sum(p.stat().st_size for p in (landing_set / "landing").rglob("*") if p.is_file()) / 2**20
    return {
        "teachers_per_wave": teachers,
        "waves": waves,
        "seed": seed,
        "report_pdfs": pdfs,
        "duckdb_memory_limit": env.get("JIANFU_DUCKDB_MEMORY_LIMIT") or f"default ({default_memory_limit()})",
        "teacher_rows": rows,
        "baseline_files": [Path(f).name for f in csv_files],
        "landing_mb": round(landing_mb, 1),
        "register": manifest.get("register", {}),
        "generate": generate,
        "pipeline": pipeline,
        "baseline": baseline,
        "ratio": round(pipeline["wall_s"] / baseline["wall_s"], 3),
        "rss_ratio": round(pipeline["peak_rss_mb"] / max(baseline["peak_rss_mb"], 1), 3),
        "rerun": {**rerun, "ratio_to_first": round(rerun["wall_s"] / pipeline["wall_s"], 3)},
        "ingest_only": ingest,
        "warehouse_mb": round((data_dir / "warehouse.duckdb").stat().st_size / 2**20, 1)
        if (data_dir / "warehouse.duckdb").exists()
        else None,
    }


def _is_utf8(path: Path) -> bool:
    """DuckDB's CSV reader takes UTF-8 only: the GBK and BOM files of a multi-wave set stay out of the baseline."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(b"\xef\xbb\xbf"):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4
    return True


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def run_sizes(
    sizes: list[int],
    waves: int,
    seed: int,
    root: Path | None,
    timeout: float | None,
    keep: bool,
    pdfs: bool = False,
    memory_limit: str = "",
) -> list:
    """Each size in its own work directory; a size the disk cannot hold three times over is skipped."""
    results = []
    for teachers in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"jianfu-bench-{teachers}-", dir=root))
        needed = 3 * BYTES_PER_ROW * teachers * waves
        if shutil.disk_usage(work).free < needed:
            results.append(
                {
                    "teachers_per_wave": teachers,
                    "waves": waves,
                    "skipped": f"needs about {needed / 2**30:.1f} GiB free disk",
                }
            )
        else:
            results.append(compare(teachers, waves, seed, work, timeout, pdfs, memory_limit))
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(results[-1], ensure_ascii=False), file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, default=200_000, help="teacher responses per wave (default 200000)")
    parser.add_argument("--waves", type=int, default=1)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scaling", action="store_true", help="a series of sizes instead of one (see --sizes)")
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in SCALING_SIZES),
        help="comma-separated teachers per wave for --scaling",
    )
    parser.add_argument("--out", type=Path, default=Path("bench.json"), help="where the JSON goes (default bench.json)")
    parser.add_argument("--workdir", type=Path, help="parent of the scratch directories (default: the system temp)")
    parser.add_argument("--timeout", type=float, help="seconds after which a measured step is killed")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and warehouses")
    parser.add_argument(
        "--pdfs", action="store_true", help="print the report PDFs too (chromium; a fixed cost, off by default)"
    )
    parser.add_argument(
        "--memory-limit",
        default=os.environ.get("JIANFU_DUCKDB_MEMORY_LIMIT", ""),
        help="DuckDB memory_limit for the pipeline (e.g. 1GiB; default: the resource's), recorded in the JSON",
    )
    parser.add_argument("--coverage-seeds", type=int, default=80, help="generator seeds of the coverage simulation")
    parser.add_argument("--coverage-only", action="store_true", help="run the coverage simulation only")
    args = parser.parse_args(argv)
    if args.coverage_only:
        from pipelines.synthetic.coverage import coverage

        started = time.perf_counter()
        figures = {
            "county_coverage": coverage(args.coverage_seeds, 6000),
            "coverage_s": round(time.perf_counter() - started, 1),
        }
    else:
        sizes = [int(s) for s in args.sizes.split(",")] if args.scaling else [args.teachers]
        results = run_sizes(
            sizes, args.waves, args.seed, args.workdir, args.timeout, args.keep, args.pdfs, args.memory_limit
        )
        figures = {"machine": machine(), **({"series": results} if args.scaling else results[0])}
    text = json.dumps(figures, ensure_ascii=False, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
