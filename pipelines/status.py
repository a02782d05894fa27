"""`jianfu status`: what the warehouse holds and how the last run went, read without writing anything."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pipelines.resources import FatalPipelineError, open_warehouse

LAST_RUN_FILE = ".jianfu-last-run.json"


def record_last_run(data_dir: Path, started: float, outcome: str, message: str = "") -> None:
    """What `jianfu status` says about the last `jianfu run`: times, outcome and the one-line reason."""
    if not data_dir.is_dir():
        return
    record = {"started": started, "finished": datetime.now(UTC).timestamp(), "outcome": outcome, "message": message}
    try:
        (data_dir / LAST_RUN_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
    except OSError:
        return


def _last_run_line(data_dir: Path) -> str:
    try:
        record = json.loads((data_dir / LAST_RUN_FILE).read_text(encoding="utf-8"))
        finished = datetime.fromtimestamp(record["finished"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        took = record["finished"] - record["started"]
    except (OSError, ValueError, KeyError, TypeError):
        return "last jianfu run: none recorded"
    reason = f": {record['message']}" if record.get("message") else ""
    return f"last jianfu run: {record['outcome']} at {finished} after {took:.0f} s{reason}"


def status_lines(data_dir: Path) -> list[str]:
    """The lines `jianfu status` prints; raises FatalPipelineError when the directory does not exist."""
    if not data_dir.is_dir():
        raise FatalPipelineError(f"data directory {data_dir} does not exist (create it with: jianfu init {data_dir})")
    lines = [f"data directory {data_dir}"]
    warehouse = data_dir / "warehouse.duckdb"
    if not warehouse.is_file():
        lines.append(f"no warehouse yet: run  jianfu run --data-dir {data_dir}")
    else:
        lines += _warehouse_lines(warehouse)
    lines.append(_last_run_line(data_dir))
    lines += _run_lines(data_dir)
    lines += _report_lines(data_dir / "reports")
    return lines


def _warehouse_lines(warehouse: Path) -> list[str]:
    try:
        conn = open_warehouse(warehouse, read_only=True, lock_timeout=0)
    except FatalPipelineError as exc:
        if "held by another process" in str(exc):
            return [
                f"warehouse {warehouse} is being written by a run right now (DuckDB admits no reader beside "
                "a writer); ask again when it finishes"
            ]
        raise
    with conn:
        present = {
            f"{s}.{t}"
            for s, t in conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
        lines = [f"warehouse {warehouse} ({warehouse.stat().st_size / 1e6:.1f} MB)"]
        if "landing.files" in present:
            loaded_row = conn.execute("select count(*) from landing.files where status = 'loaded'").fetchone()
            assert loaded_row is not None
            loaded = loaded_row[0]
            bad_row = conn.execute("select count(*) from quarantine.rejected_files").fetchone()
            assert bad_row is not None
            bad = bad_row[0]
            lines.append(f"landing files: {loaded} loaded, {bad} rejected")
        if "marts.data_quality" not in present:
            lines.append("no marts yet: the last run did not finish")
            return lines
        rows = conn.execute(
            "select coalesce(wave, '(none)'), source, rows_received, rows_accepted, rows_rejected "
            "from marts.data_quality order by wave nulls last, source"
        ).fetchall()
        waves = sorted({r[0] for r in rows} - {"(none)"})
        lines.append(f"waves: {', '.join(waves) or 'none'}")
        if rows:
            lines.append(f"  {'wave':<8} {'source':<15} {'received':>9} {'accepted':>9} {'rejected':>9}")
            lines += [f"  {w:<8} {s:<15} {rec:>9} {acc:>9} {rej:>9}" for w, s, rec, acc, rej in rows]
        if "quality.run_failures" in present:
            failures = conn.execute("select count(*), max(failed_at) from quality.run_failures").fetchone()
            assert failures is not None
            if failures[0]:
                lines.append(
                    f"run failures recorded: {failures[0]} (latest {failures[1]:%Y-%m-%d %H:%M} UTC; "
                    "quality.run_failures)"
                )
    return lines


def _run_lines(data_dir: Path) -> list[str]:
    """The latest Dagster run, from the instance `jianfu run` records into; no instance is created."""
    import dagster as dg

    from pipelines.runner import project_instance

    storage = Path(os.environ.get("JIANFU_DAGSTER_STORAGE") or data_dir / "dagster")
    if not os.environ.get("DAGSTER_HOME") and not storage.is_dir():
        return ["last Dagster run: none recorded"]
    with project_instance(data_dir) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return ["last Dagster run: none recorded"]
        run = runs[0]
        record = instance.get_run_record_by_id(run.run_id)
        assert record is not None
        when = record.end_time or record.start_time
        stamp = datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "?"
        partition = run.tags.get("dagster/partition")
        outcome = {dg.DagsterRunStatus.SUCCESS: "succeeded", dg.DagsterRunStatus.FAILURE: "FAILED"}.get(
            run.status, run.status.value.lower()
        )
        return [
            f"last Dagster run: {run.job_name}{' ' + partition if partition else ''} {outcome} at {stamp} "
            f"(run {run.run_id[:8]})"
        ]


def _report_lines(reports: Path) -> list[str]:
    index = reports / "index.html"
    if not index.is_file():
        return ["reports: none published yet"]
    waves = sorted(
        p.name for p in reports.iterdir() if p.is_dir() and (p / "index.html").is_file() and p.name[:4].isdigit()
    )
    latest = f"; latest wave {waves[-1]}: {reports / waves[-1] / 'index.html'}" if waves else ""
    return [f"reports: {index}{latest}"]
