"""The Dagster code location: assets by stage, jobs, the landing and run-failure sensors and the schedule."""

import sys
from collections.abc import Sequence
from typing import cast

import dagster as dg

from assets import ingest, marts, policy, quality, reports, respondent_quality, staging
from pipelines.partitions import waves_partitions
from pipelines.resources import JianfuResource, MonitoringConfig, pdfs_from_env
from pipelines.schedules import build_refresh_schedule
from pipelines.sensors import build_landing_sensor, build_run_failure_sensor

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
"""jsonschema (imported with GX, through altair) compiles ~40 grammars of this optional package when
imported: ~1.3 s of CPU per process, for "iri" format checks nothing here makes. It stays unimported."""

ASSET_MODULES = [ingest, staging, marts, quality, reports, respondent_quality, policy]


def build_definitions(data_dir: str = "", baseline_wave: str = "", lock_timeout: float = 60.0) -> dg.Definitions:
    """Definitions bound to one data directory (empty: $JIANFU_DATA_DIR or data/)."""
    # the modules define only @asset functions: no source assets, specs or cacheable definitions
    assets = cast(Sequence[dg.AssetsDefinition], dg.load_assets_from_modules(ASSET_MODULES))
    checks = dg.load_asset_checks_from_modules(ASSET_MODULES)
    wave_assets = [a for a in assets if a.partitions_def == waves_partitions]
    cross_wave = [a for a in assets if a.partitions_def is None and "ingest" not in a.group_names_by_key.values()]
    ingest_job = dg.define_asset_job(
        "ingest_job",
        selection=dg.AssetSelection.groups("ingest"),
        description="Reference and landing files into the warehouse.",
    )
    wave_job = dg.define_asset_job(
        "wave_job",
        selection=dg.AssetSelection.assets(*wave_assets),
        partitions_def=waves_partitions,
        description="One wave: validation, staging and area metrics.",
    )
    monitoring_job = dg.define_asset_job(
        "monitoring_job",
        selection=dg.AssetSelection.assets(*cross_wave),
        description="Cross-wave marts and the report site.",
    )
    refresh_job = dg.define_asset_job(
        "refresh_job",
        selection=dg.AssetSelection.all(),
        partitions_def=waves_partitions,
        description="Everything, for one wave: what the sensor and schedule run.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[ingest_job, wave_job, monitoring_job, refresh_job],
        schedules=[build_refresh_schedule(refresh_job)],
        sensors=[build_landing_sensor(refresh_job), build_run_failure_sensor()],
        resources={
            "jianfu": JianfuResource(data_dir=data_dir, lock_timeout=lock_timeout),
            "monitoring": MonitoringConfig(baseline_wave=baseline_wave, print_pdfs=pdfs_from_env()),
        },
    )


defs = build_definitions()
