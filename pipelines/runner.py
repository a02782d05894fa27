"""Running the whole pipeline as real Dagster runs: ingest, each wave, then the cross-wave marts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dagster as dg

from pipelines.resources import REFERENCE_FILES, REPO_ROOT, FatalPipelineError, JianfuResource
from pipelines.rules import SOURCES
from pipelines.warehouse import landing_waves


@dataclass
class RunSummary:
    waves: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    bad_files: dict[str, str] = field(default_factory=dict)
    reports_dir: Path | None = None


def project_instance(data_dir: Path) -> dg.DagsterInstance:
    """$DAGSTER_HOME's instance when set, else the repository's dagster.yaml, storing under data_dir."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    os.environ.setdefault("JIANFU_DAGSTER_STORAGE", str(data_dir / "dagster"))
    return dg.DagsterInstance.from_config(str(REPO_ROOT))


def preflight(jianfu: JianfuResource) -> None:
    """Fail fast, with one line, on what no run could work around."""
    for name in REFERENCE_FILES:
        jianfu.reference_path(name)
    with jianfu.connect():
        pass


QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""The event log still records everything in the instance; the terminal shows progress lines."""


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance,
             partition_key: str | None = None) -> dg.ExecuteInProcessResult:
    result = job.execute_in_process(instance=instance, partition_key=partition_key, raise_on_error=False,
                                    run_config=QUIET_CONSOLE)
    if not result.success:
        failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        if failed_checks:
            message = "; ".join(_check_summary(c) for c in failed_checks)
        else:
            message = _root_cause(failure.event_specific_data.error) if failure else "run failed"
        raise FatalPipelineError(f"{job.name}{' ' + partition_key if partition_key else ''}: {message}")
    return result


def _check_summary(evaluation) -> str:
    """'check X failed: expectation(column): 3 unexpected; …' on one line, for the terminal."""
    metadata = evaluation.metadata
    detail = metadata.get("failures") or metadata.get("violations") or metadata.get("mismatches")
    text = str(getattr(detail, "value", detail or "")).replace("- `", "").replace("`", "")
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return f"check {evaluation.check_name} failed" + (f": {text[:300]}" if text else "")


def _root_cause(error) -> str:
    """The innermost error's first message line: the reason a person can act on."""
    while error.cause is not None:
        error = error.cause
    lines = [line.strip() for line in error.message.strip().splitlines() if line.strip()]
    first = lines[0] if lines else error.cls_name or "run failed"
    return first.split(": ", 1)[-1] if error.cls_name == FatalPipelineError.__name__ else first


def _staging_progress(result: dg.ExecuteInProcessResult) -> str:
    """'teacher_survey 812/820 accepted, …' from the staged assets' materialization metadata."""
    parts = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = materialization.metadata
        if "rows_received" in metadata:
            name = materialization.asset_key.path[-1].removesuffix("_staged")
            parts.append(f"{name} {metadata['rows_accepted'].value}/{metadata['rows_received'].value} accepted")
    return ", ".join(sorted(parts))


def run_pipeline(data_dir: Path, instance: dg.DagsterInstance | None = None,
                 echo: Callable[[str], None] = print, baseline_wave: str = "") -> RunSummary:
    """Materialize every asset for every wave in the landing folders; raises FatalPipelineError."""
    from pipelines.definitions import build_definitions

    data_dir = Path(data_dir).resolve()
    jianfu = JianfuResource(data_dir=str(data_dir))
    preflight(jianfu)
    instance = instance or project_instance(data_dir)
    defs = build_definitions(data_dir=str(data_dir), baseline_wave=baseline_wave)
    summary = RunSummary(reports_dir=jianfu.reports_dir)

    summary.run_ids.append(_execute(defs.resolve_job_def("ingest_job"), instance).run_id)
    with jianfu.connect(read_only=True) as conn:
        summary.waves = sorted({w for source in SOURCES for w in landing_waves(conn, source)})
        summary.bad_files = {f"{s}/{f}": r for s, f, r in conn.execute(
            "select source, file, reason from quarantine.rejected_files order by 1, 2").fetchall()}
    for name, reason in summary.bad_files.items():
        echo(f"bad file {name}: {reason}")
    echo(f"waves found: {', '.join(summary.waves) or 'none'}")

    wave_job = defs.resolve_job_def("wave_job")
    for wave in summary.waves:
        result = _execute(wave_job, instance, partition_key=wave)
        summary.run_ids.append(result.run_id)
        echo(f"wave {wave}: {_staging_progress(result)}")
    summary.run_ids.append(_execute(defs.resolve_job_def("monitoring_job"), instance).run_id)
    echo(f"marts and reports rebuilt; reports in {summary.reports_dir}")
    return summary
