"""Building blocks shared by the statistics tests: synthetic reference data, staged survey frames,
partitioned materialisations of the area-metrics mart and the per-respondent metric values."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl

from assets.marts import (
    area_metrics,
    area_metrics_interval_holds_estimate,
    area_metrics_intervals_are_honest,
    area_metrics_no_lone_suppressed_sibling,
    area_metrics_no_small_published_cell,
    area_metrics_shares_in_range,
)
from pipelines.catalogue.metrics import METRICS
from pipelines.resources import REFERENCE_FILES, JianfuResource, MonitoringConfig
from pipelines.warehouse.tables import load_reference

LEVELS = ("primary", "junior", "senior")
AREA_CHECKS = [
    area_metrics_no_small_published_cell,
    area_metrics_no_lone_suppressed_sibling,
    area_metrics_interval_holds_estimate,
    area_metrics_shares_in_range,
    area_metrics_intervals_are_honest,
]


def write_reference(root, seed: int = 7) -> None:
    """Synthetic schools.csv (4 schools a county) and teacher_population.csv in root/reference."""
    divisions = pl.read_csv(JianfuResource().reference_path("divisions.csv"), infer_schema=False)
    counties = divisions.filter(pl.col("level") == "county")["code"].to_list()
    rng = np.random.default_rng(seed)
    schools = pl.DataFrame(
        [
            {
                "school_code": f"{c}{k:03d}",
                "school_name": f"学校{c}{k:03d}",
                "county_code": c,
                "school_type": "九年一贯制",
                "urban_rural": "urban",
                "n_teachers": 40,
            }
            for c in counties
            for k in range(1, 5)
        ]
    )
    population = pl.DataFrame(
        [
            {"county_code": c, "school_level": level, "n_teachers": int(rng.integers(50, 900))}
            for c in counties
            for level in LEVELS
        ]
    )
    (root / "reference").mkdir(parents=True, exist_ok=True)
    schools.write_csv(root / "reference" / "schools.csv")
    population.write_csv(root / "reference" / "teacher_population.csv")


def new_warehouse(root) -> JianfuResource:
    """An empty warehouse with the shipped divisions/items and the synthetic schools/population."""
    write_reference(root)
    jianfu = JianfuResource(data_dir=str(root))
    with jianfu.connect() as conn:
        load_reference(conn, {name: jianfu.reference_path(name) for name in REFERENCE_FILES})
    return jianfu


def survey_frame(wave: str, layout, rng: np.random.Generator, blank_rate: float) -> pl.DataFrame:
    """Staged teacher rows for a layout of (school, level, respondents), random answers and blanks."""
    schools, levels = [], []
    for school, level, n in layout:
        schools += [school] * n
        levels += [level] * n
    size = len(schools)

    def blanks(values):
        values = np.asarray(values, dtype=float)
        return np.where(rng.random(size) < blank_rate, np.nan, values)

    columns = {
        "wave": [wave] * size,
        "response_id": [f"{wave}-{i}" for i in range(size)],
        "school_code": schools,
        "school_level": levels,
        "county_code": [s[:6] for s in schools],
        "league_code": [s[:4] + "00" for s in schools],
        "hours_total": blanks(rng.uniform(35, 70, size).round(1)),
    }
    for k in range(1, 6):
        columns[f"hours_cat{k}"] = blanks(rng.uniform(0, 4, size).round(1))
    for name in (
        "n_inspections",
        "n_forms",
        "n_app_tasks",
        "n_nonteaching_meetings",
        "n_invigilations",
        "days_seconded",
    ):
        columns[name] = blanks(rng.poisson(2.0, size))
    columns["training_hours_nonteaching"] = blanks(rng.uniform(0, 10, size))
    for k in range(1, 27):
        columns[f"item_{k:02d}"] = blanks(rng.random(size) < rng.uniform(0.02, 0.6))
    columns["felt_change"] = blanks(rng.integers(1, 6, size))
    columns["focus_on_teaching"] = blanks(rng.integers(1, 6, size))
    frame = pl.DataFrame(columns).fill_nan(None)
    integers = [c for c in frame.columns if c.startswith(("item_", "n_", "days_", "felt_", "focus_"))]
    return frame.with_columns(pl.col(integers).cast(pl.Int64))


def insert_staged(jianfu: JianfuResource, table: str, frame: pl.DataFrame) -> None:
    with jianfu.connect() as conn:
        conn.register("frame", frame)
        conn.execute(f"insert into {table} by name select * from frame")
        conn.unregister("frame")


def materialize_waves(
    jianfu: JianfuResource, waves, assets=(area_metrics, *AREA_CHECKS), monitoring: MonitoringConfig | None = None
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("waves", list(waves))
    for wave in waves:
        result = dg.materialize(
            list(assets),
            partition_key=wave,
            instance=instance,
            resources={"jianfu": jianfu, "monitoring": monitoring or MonitoringConfig()},
        )
        assert result.success
        for check in result.get_asset_check_evaluations():
            assert check.passed, (check.check_name, check.metadata)


def read_mart(jianfu: JianfuResource, wave: str) -> pl.DataFrame:
    with jianfu.connect(read_only=True) as conn:
        return conn.sql("select * from marts.area_metrics where wave = $wave", params={"wave": wave}).pl()


def metric_values(frame: pl.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) per respondent for a teacher metric, NaN where blank."""

    def col(name):
        return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

    ones = np.ones(frame.height)
    felt, focus = col("felt_change"), col("focus_on_teaching")
    nonteaching = sum(col(f"hours_cat{k}") for k in range(1, 6))
    if metric == "hours_nonteaching":
        return nonteaching, ones
    if metric == "nonteaching_share":
        return nonteaching, col("hours_total")
    if metric == "felt_lighter_share":
        return np.where(np.isnan(felt), np.nan, (felt >= 4) * 1.0), ones
    if metric == "felt_heavier_share":
        return np.where(np.isnan(felt), np.nan, (felt <= 2) * 1.0), ones
    if metric == "felt_net":
        return np.where(np.isnan(felt), np.nan, (felt >= 4) * 1.0 - (felt <= 2) * 1.0), ones
    if metric == "focus_share":
        return np.where(np.isnan(focus), np.nan, (focus >= 4) * 1.0), ones
    return col(metric), ones


TEACHER_METRICS = [m.name for m in METRICS if m.source == "teacher_survey"]


def random_layout(rng: np.random.Generator) -> list[tuple[str, str, int]]:
    """Schools over three leagues: 1–12 schools a county, a county with one school, a
    single-school stratum, a school answering at two levels, and counties of every size."""
    layout = []
    for league, counties in (
        ("1501", ("02", "03", "04", "05", "21", "22")),
        ("1502", ("02", "03", "04", "05")),
        ("1503", ("02", "03")),
    ):
        for county in counties:
            for k in range(1, int(rng.integers(1, 13)) + 1):
                level = str(rng.choice(["primary", "junior"], p=[0.6, 0.4]))
                layout.append((f"{league}{county}{k:03d}", level, int(rng.integers(4, 35))))
    layout.append(("150302001", "junior", 12))
    layout.append(("150302009", "senior", 25))
    layout.append(("150102001", "junior" if layout[0][1] == "primary" else "primary", 9))
    return layout
