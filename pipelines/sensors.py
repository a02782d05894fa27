"""The landing sensor: remembers every file it has seen (path -> mtime) and runs the waves they hold."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from pipelines.landing.scan import LandingFileError, list_landing_files, waves_in_file
from pipelines.partitions import waves_partitions
from pipelines.resources import JianfuResource
from pipelines.catalogue.rules import SOURCES


def landing_snapshot(jianfu: JianfuResource) -> dict[str, int]:
    """`source/file` -> modification time in ns, for every landing file."""
    snapshot = {}
    for source in SOURCES:
        folder = jianfu.landing_dir / source
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                snapshot[f"{source}/{path.relative_to(folder).as_posix()}"] = path.stat().st_mtime_ns
    return snapshot


def plan_runs(previous: dict[str, int], current: dict[str, int], jianfu: JianfuResource,
              known_waves: list[str]) -> tuple[list[str], list[str], str]:
    """(waves to run, waves to register, run-key digest) for what changed since `previous`."""
    changed = sorted(k for k, mtime in current.items() if previous.get(k) != mtime)
    removed = sorted(set(previous) - set(current))
    if not changed and not removed:
        return [], [], ""
    waves: set[str] = set(known_waves) if removed else set()
    files = {f"{f.source}/{f.name}": f for source in SOURCES
             for f in list_landing_files(jianfu.landing_dir, source)}
    for key in changed:
        try:
            waves |= waves_in_file(files[key], jianfu.mappings_dir)
        except (KeyError, LandingFileError):
            continue
    digest = hashlib.sha256(json.dumps([changed, removed, [current.get(k) for k in changed]]).encode())
    return sorted(waves), sorted(waves - set(known_waves)), digest.hexdigest()[:16]


def build_landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def landing_sensor(context: dg.SensorEvaluationContext, jianfu: JianfuResource):
        """Runs every wave touched by a new, changed or removed landing file, once per change."""
        previous = json.loads(context.cursor) if context.cursor else {}
        current = landing_snapshot(jianfu)
        known = context.instance.get_dynamic_partitions(waves_partitions.name)
        waves, new_waves, digest = plan_runs(previous, current, jianfu, known)
        if not digest:
            return dg.SkipReason("no landing file changed")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=w, run_key=f"{w}:{digest}") for w in waves],
            dynamic_partitions_requests=[waves_partitions.build_add_request(new_waves)] if new_waves else [],
            cursor=json.dumps(current, sort_keys=True),
        )

    return landing_sensor
