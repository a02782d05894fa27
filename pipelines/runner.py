"""Running the whole pipeline as real Dagster runs: ingest, each wave, then the cross-wave marts."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import dagster as dg

from pipelines.catalogue.rules import SOURCES, WAVE_SOURCES
from pipelines.landing import state
from pipelines.partitions import WAVES
from pipelines.report.pdf import pdf_note
from pipelines.resources import PROJECT_DIR, REFERENCE_FILES, FatalPipelineError, JianfuResource
from pipelines.warehouse.tables import landing_waves


@dataclass
class RunSummary:
    waves: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    bad_files: dict[str, str] = field(default_factory=dict)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    files_loaded: int = 0
    restaged: list[str] = field(default_factory=list)
    reports_dir: Path | None = None


def project_instance(data_dir: Path) -> dg.DagsterInstance:
    """$DAGSTER_HOME's instance when set, else the shipped dagster.yaml, storing under data_dir."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    os.environ.setdefault("JIANFU_DAGSTER_STORAGE", str(data_dir / "dagster"))
    return dg.DagsterInstance.from_config(str(PROJECT_DIR))


def preflight(jianfu: JianfuResource) -> None:
    """Fail fast, with one line, on a missing reference file, before the warehouse is opened (a failed
    run leaves no new warehouse behind); an unreadable warehouse fails as the run holds it."""
    for name in REFERENCE_FILES:
        jianfu.reference_path(name)


QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""The event log still records everything in the instance; the terminal shows progress lines."""


Step = Callable[[str, int, int], None]
"""step(label, index, total) before each Dagster run; total is 0 until the ingest run has counted the waves."""


def _no_step(label: str, index: int, total: int) -> None:
    return None


def _execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    jianfu: JianfuResource | None = None,
) -> dg.ExecuteInProcessResult:
    result = job.execute_in_process(
        instance=instance, partition_key=partition_key, raise_on_error=False, run_config=QUIET_CONSOLE
    )
    if not result.success:
        if jianfu is not None:
            _record_failure(jianfu, instance, result.run_id)
        failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        if failed_checks:
            message = "; ".join(_check_summary(c) for c in failed_checks)
        else:
            message = _root_cause(failure.step_failure_data.error) if failure else "run failed"
        raise FatalPipelineError(f"{job.name}{' ' + partition_key if partition_key else ''}: {message}")
    return result


def _record_failure(jianfu: JianfuResource, instance: dg.DagsterInstance, run_id: str) -> None:
    """The same quality.run_failures row the run-failure sensor writes; best effort, the run fails anyway."""
    from pipelines.sensors import failure_from_run, record_run_failure

    try:
        record_run_failure(jianfu, failure_from_run(instance, run_id))
    except FatalPipelineError:
        return


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
        materialization = event.step_materialization_data.materialization
        metadata = materialization.metadata
        if "rows_received" in metadata:
            name = materialization.asset_key.path[-1].removesuffix("_staged")
            parts.append(f"{name} {metadata['rows_accepted'].value}/{metadata['rows_received'].value} accepted")
    return ", ".join(sorted(parts))


def _skipped_assets(result: dg.ExecuteInProcessResult) -> list[str]:
    """The ingest assets that found their files unchanged and reused the warehouse's rows."""
    names = []
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        flag = materialization.metadata.get("skipped")
        if flag is not None and getattr(flag, "value", flag) is True:
            names.append(materialization.asset_key.path[-1])
    return sorted(names)


def _settings(defs: dg.Definitions) -> dict:
    """The configured values every wave and mart is built with, for the fingerprints."""
    assert defs.resources is not None
    monitoring = defs.resources["monitoring"]
    return {"monitoring": monitoring.model_dump() if hasattr(monitoring, "model_dump") else dict(monitoring)}


def _report_inputs(conn, echo: Callable[[str], None], summary: RunSummary) -> None:
    summary.bad_files = {
        f"{s}/{f}": r
        for s, f, r in conn.execute(
            "select source, file, reason from quarantine.rejected_files order by 1, 2"
        ).fetchall()
    }
    for name, reason in summary.bad_files.items():
        echo(f"bad file {name}: {reason}")
    summary.missing_columns = {
        f"{s}/{f}": c
        for s, f, c in conn.execute(
            "select source, file, missing_columns from landing.files where len(missing_columns) > 0 order by 1, 2"
        ).fetchall()
    }
    for name, columns in summary.missing_columns.items():
        echo(f"file {name} lacks {len(columns)} optional columns, shown as not collected: {', '.join(columns)}")
    summary.files_loaded = conn.execute("select count(*) from landing.files where status = 'loaded'").fetchone()[0]
    rows = dict(
        conn.execute(
            "select source, coalesce(sum(rows_read), 0) from landing.files where status = 'loaded' group by source"
        ).fetchall()
    )
    if summary.files_loaded or summary.bad_files:
        echo(
            f"ingest: {summary.files_loaded} files loaded ("
            + ", ".join(f"{source} {rows.get(source, 0)} rows" for source in SOURCES)
            + f"), {len(summary.bad_files)} rejected"
        )


def synthetic_mix(data_dir: Path) -> str:
    """A warning line when the generator's manifest.json sits beside landing files it did not write."""
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.is_file():
        return ""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        generated = {f"{source}/{name}" for source, names in manifest.get("files", {}).items() for name in names}
        generated |= {f"teacher_survey/{name}" for name in manifest.get("bad_files", [])}
    except (ValueError, AttributeError, TypeError):
        return f"WARNING: {manifest_path.name} is unreadable: cannot tell synthetic from real landing files"
    present = {
        f"{source}/{p.relative_to(data_dir / 'landing' / source).as_posix()}"
        for source in SOURCES
        for p in (data_dir / "landing" / source).rglob("*")
        if p.is_file()
    }
    others = present - generated
    if not present & generated:
        return ""
    if others:
        return (
            f"WARNING: synthetic sample files (listed in {manifest_path}) and {len(others)} other landing "
            "files are mixed in one data directory: every figure blends them. Keep the demo apart "
            "(jianfu demo uses data/demo/) or remove the synthetic files and manifest.json"
        )
    return f"note: every landing file here is synthetic (listed in {manifest_path}): the figures are not real"


def check_baseline(conn, baseline_wave: str) -> None:
    """An unknown --baseline-wave is fatal: one typo would otherwise change every 50% verdict."""
    if not baseline_wave:
        return
    waves = landing_waves(conn, "school_report")
    if baseline_wave not in waves:
        shown = " ".join(baseline_wave.split())[:24]
        raise FatalPipelineError(
            f"unknown baseline wave {shown!r}: the waves with school reports are "
            f"{', '.join(waves) or 'none (no school report loaded)'}"
        )


def run_pipeline(
    data_dir: Path,
    instance: dg.DagsterInstance | None = None,
    echo: Callable[[str], None] = print,
    baseline_wave: str = "",
    lock_timeout: float = 60.0,
    step: Step = _no_step,
) -> RunSummary:
    """Materialize what the landing files changed, as real Dagster runs; raises FatalPipelineError.

    The ingest run reads the folders that changed (files by content hash) and is not started when
    none did; then each wave whose inputs changed is restaged, and the cross-wave marts and the site
    are rebuilt when any wave, the code or the settings changed. One run at a time per data
    directory, holding the warehouse throughout: a second one waits up to `lock_timeout` seconds.
    """
    from pipelines.definitions import build_definitions

    data_dir = Path(data_dir).resolve()
    jianfu = JianfuResource(data_dir=str(data_dir), lock_timeout=lock_timeout)
    if not data_dir.is_dir():
        raise FatalPipelineError(f"data directory {data_dir} does not exist (create it with: jianfu init {data_dir})")
    with run_lock(data_dir, lock_timeout):
        preflight(jianfu)
        with jianfu.held():
            defs = build_definitions(data_dir=str(data_dir), baseline_wave=baseline_wave, lock_timeout=lock_timeout)
            mix = synthetic_mix(data_dir)
            if mix:
                echo(mix)

            @cache
            def dagster_instance() -> dg.DagsterInstance:
                return instance or project_instance(data_dir)

            return _run_locked(defs, jianfu, dagster_instance, echo, step, baseline_wave)


def _run_locked(
    defs: dg.Definitions,
    jianfu: JianfuResource,
    dagster_instance: Callable[[], dg.DagsterInstance],
    echo: Callable[[str], None],
    step: Step,
    baseline_wave: str,
) -> RunSummary:
    """The runs themselves. The Dagster instance is opened only when a run starts: a rerun on unchanged
    files starts none (its ingest would re-read nothing, every wave and the site are current)."""
    from assets.ingest import ingest_unchanged

    summary = RunSummary(reports_dir=jianfu.reports_dir)
    step("ingest: reference and landing files", 1, 0)
    if _ingest_unchanged(jianfu, ingest_unchanged):
        skipped = sorted(key.path[-1] for key in defs.resolve_job_def("ingest_job").asset_layer.executable_asset_keys)
    else:
        ingest = _execute(defs.resolve_job_def("ingest_job"), dagster_instance(), jianfu=jianfu)
        summary.run_ids.append(ingest.run_id)
        skipped = _skipped_assets(ingest)
    if skipped:
        echo(f"ingest: {', '.join(skipped)} unchanged since the last run (content hashes verified): not re-read")
    references = [jianfu.reference_path(n) for n in REFERENCE_FILES]
    context = state.context_digest(references, _settings(defs), "wave")
    site_context = state.context_digest(references, _settings(defs), "site")
    with jianfu.connect() as conn:
        summary.waves = sorted({w for source in WAVE_SOURCES for w in landing_waves(conn, source)})
        check_baseline(conn, baseline_wave)
        _report_inputs(conn, echo, summary)
        digests = state.wave_digests(conn, context)
        state.forget_vanished_waves(conn, summary.waves)
        reasons = state.stale_waves(conn, digests)
        site_digest = state.run_digest(digests, site_context + state.unwaved_digest(conn))
        recorded_site = state.recorded_run(conn, "monitoring")
        site_current = recorded_site == site_digest and (jianfu.reports_dir / "index.html").is_file()
    stale = list(reasons)
    echo(
        f"waves found: {', '.join(summary.waves) or 'none'}"
        + (f"; changed: {', '.join(stale)}" if stale and stale != summary.waves else "")
    )
    echo(_skip_line(summary.waves, reasons))
    if summary.files_loaded == 0 and summary.bad_files:
        echo(f"NO FILE LOADED: all {len(summary.bad_files)} landing files were rejected (reasons above)")

    rebuild = bool(stale) or not site_current
    total = 1 + len(stale) + int(rebuild)
    wave_job = defs.resolve_job_def("wave_job")
    if rebuild:
        _register_waves(dagster_instance(), summary.waves)
    for index, wave in enumerate(stale, start=2):
        step(f"wave {wave} ({index - 1} of {len(stale)}): validation, staging, area metrics", index, total)
        result = _execute(wave_job, dagster_instance(), partition_key=wave, jianfu=jianfu)
        summary.run_ids.append(result.run_id)
        with jianfu.connect() as conn:
            state.record_wave(conn, wave, digests[wave])
        echo(f"wave {wave}: {_staging_progress(result)}")
    summary.restaged = stale
    if site_current and not stale:
        echo(f"nothing changed since the last run: marts and report site not rebuilt; reports in {summary.reports_dir}")
        return summary
    step("cross-wave marts, checks and the report site", total, total)
    summary.run_ids.append(_execute(defs.resolve_job_def("monitoring_job"), dagster_instance(), jianfu=jianfu).run_id)
    with jianfu.connect() as conn:
        state.record_run(conn, "monitoring", site_digest)
    echo(f"marts and reports rebuilt; reports in {summary.reports_dir}")
    assert defs.resources is not None
    if defs.resources["monitoring"].print_pdfs and (note := pdf_note()):
        echo(note)
    return summary


def _ingest_unchanged(jianfu: JianfuResource, unchanged: Callable[[JianfuResource], bool]) -> bool:
    """`unchanged(jianfu)`, and False on any error: the ingest run then meets it and reports it as a
    failed run (one line, a quality.run_failures row), as it always has."""
    try:
        return unchanged(jianfu)
    except Exception:
        return False


def _register_waves(instance: dg.DagsterInstance, waves: list[str]) -> None:
    """Every wave as a partition of this instance before any run starts: the ingest run adds them, but a
    run whose ingest was skipped may restage a wave (new settings or code) in an instance that has not
    seen it (a new DAGSTER_HOME, the PostgreSQL deployment), and the sensor reads them there."""
    missing = [w for w in waves if not instance.has_dynamic_partition(WAVES, w)]
    if missing:
        instance.add_dynamic_partitions(WAVES, missing)


def _skip_line(waves: list[str], reasons: dict[str, list[str]]) -> str:
    """'restage 2024-11 (code); skip 2024-05 (inputs unchanged)': what this run redoes and why."""
    redo = [f"{w} ({', '.join(reasons[w])})" for w in waves if w in reasons]
    skip = [w for w in waves if w not in reasons]
    parts = ([f"restage {', '.join(redo)}"] if redo else []) + (
        [f"skip {', '.join(skip)} (inputs unchanged)"] if skip else []
    )
    return "waves: " + ("; ".join(parts) or "none")


@contextmanager
def run_lock(data_dir: Path, timeout: float) -> Iterator[None]:
    """One jianfu run per data directory: an advisory lock on `.jianfu.lock`, waited for up to `timeout` s."""
    path = data_dir / ".jianfu.lock"
    try:
        handle = path.open("a+")
    except OSError as exc:
        raise FatalPipelineError(f"cannot create the run lock in {data_dir}: {os.strerror(exc.errno or 0)}") from None
    deadline = time.monotonic() + max(0.0, timeout)
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FatalPipelineError(
                        f"another jianfu run is using {data_dir}; waited {timeout:g} s (--lock-timeout)"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        handle.close()
