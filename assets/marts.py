"""Marts: the contract's monitoring tables, each rebuilt by its SQL file in one transaction."""

import dagster as dg

from pipelines.partitions import DUCKDB_POOL, waves_partitions
from pipelines.resources import JianfuResource, MonitoringConfig, load_sql
from pipelines.warehouse import replace_table, replace_wave

from assets.ingest import reference_tables
from assets.staging import school_report_staged, teacher_survey_staged


@dg.asset(group_name="marts", pool=DUCKDB_POOL,
          deps=[teacher_survey_staged, school_report_staged, dg.AssetKey("reporting_completeness")])
def data_quality(jianfu: JianfuResource) -> dg.MaterializeResult:
    """marts.data_quality: received = accepted + rejected per wave and source, and coverage."""
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.data_quality", "marts/data_quality.sql")
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(group_name="marts", pool=DUCKDB_POOL, deps=[teacher_survey_staged, reference_tables])
def metrics_not_collected(jianfu: JianfuResource) -> dg.MaterializeResult:
    """marts.metrics_not_collected: metrics whose question the area's files lacked, shown as "not collected"."""
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.metrics_not_collected", "marts/metrics_not_collected.sql")
    return dg.MaterializeResult(metadata={"rows": rows})


def _violations(jianfu: JianfuResource, query: str, params: dict | None = None) -> dg.AssetCheckResult:
    """Passes when `query` returns no rows; up to 20 offending rows go into the metadata."""
    with jianfu.connect(read_only=True) as conn:
        rows = conn.sql(query, params=params or {}).pl()
    return dg.AssetCheckResult(passed=rows.height == 0, metadata={
        "violations": rows.height, "sample": dg.MetadataValue.json(rows.head(20).to_dicts())})


@dg.asset(group_name="marts", pool=DUCKDB_POOL, partitions_def=waves_partitions,
          deps=[teacher_survey_staged, school_report_staged, reference_tables, dg.AssetKey("respondent_quality")])
def area_metrics(context: dg.AssetExecutionContext, jianfu: JianfuResource,
                 monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.area_metrics for the partition's wave: design-based estimates under disclosure control.

    Cells with n < min_cell_n are suppressed; where exactly one of a league's counties (or of the
    region's leagues) with respondents is, the published sibling with the smallest n (ties: lowest
    code) is suppressed too, so the small cell cannot be recovered by subtraction.
    """
    params = {"wave": context.partition_key, "z": monitoring.z, "min_n": monitoring.min_cell_n,
              "rse_caution": monitoring.rse_caution}
    with jianfu.connect() as conn:
        rows = replace_wave(conn, "marts.area_metrics", "marts/area_metrics.sql", params)
        by_suppression = dict(conn.execute(
            "select coalesce(suppression, 'published'), count(*) from marts.area_metrics "
            "where wave = $wave group by 1", {"wave": params["wave"]}).fetchall())
    return dg.MaterializeResult(metadata={"rows": rows, **{f"cells_{k}": v for k, v in by_suppression.items()}})


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_no_small_published_cell(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.AssetCheckResult:
    """No published teacher cell rests on fewer than min_cell_n respondents."""
    return _violations(jianfu, "select wave, area_level, area_code, metric, n from marts.area_metrics "
                               "join meta.metrics using (metric) "
                               "where source = 'teacher_survey' and not suppressed and n < $min_n",
                       {"min_n": monitoring.min_cell_n})


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_no_lone_suppressed_sibling(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Among siblings with respondents, suppression never hits exactly one: no recovery by subtraction."""
    return _violations(jianfu, load_sql("marts/area_metrics_no_lone_suppressed_sibling.sql"))


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_interval_holds_estimate(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """ci_low <= estimate <= ci_high wherever an interval is published."""
    return _violations(jianfu, "select wave, area_level, area_code, metric, estimate, ci_low, ci_high "
                               "from marts.area_metrics "
                               "where ci_low is not null and not (ci_low <= estimate and estimate <= ci_high)")


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_shares_in_range(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Shares lie in [0, 1]; felt_net, a difference of two shares, in [-1, 1]."""
    return _violations(jianfu, "select wave, area_level, area_code, metric, estimate from marts.area_metrics "
                               "join meta.metrics using (metric) "
                               "where kind = 'share' and estimate not between "
                               "case when metric = 'felt_net' then -1 else 0 end and 1")


@dg.asset(group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics])
def inspection_target(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.inspection_target: inspections per school against the baseline wave, per area and wave."""
    params = {"baseline_wave": monitoring.baseline_wave, "target": monitoring.inspection_reduction_target}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.inspection_target", "marts/inspection_target.sql", params)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset_check(asset=inspection_target, blocking=True, pool=DUCKDB_POOL)
def inspection_target_one_baseline(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """A single baseline wave, and every area's reduction there is 0 (or unknown)."""
    return _violations(jianfu, "select area_level, area_code, wave, baseline_wave, reduction_pct "
                               "from marts.inspection_target "
                               "where baseline_wave <> (select min(baseline_wave) from marts.inspection_target) "
                               "or (wave = baseline_wave and reduction_pct <> 0)")


@dg.asset(group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics])
def wave_changes(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.wave_changes: each published estimate against the previous wave's, with a z-test."""
    params = {"z": monitoring.z, "significance": monitoring.significance}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.wave_changes", "marts/wave_changes.sql", params)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset_check(asset=wave_changes, blocking=True, pool=DUCKDB_POOL)
def wave_changes_consistent(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """change = estimate − previous, inside its interval, p-value in [0, 1]."""
    return _violations(jianfu, "select * from marts.wave_changes "
                               "where abs(change - (estimate - previous_estimate)) > 1e-9 "
                               "or (ci_low is not null and not (ci_low <= change and change <= ci_high)) "
                               "or p_value not between 0 and 1")


@dg.asset(group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics])
def trends(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.trends: Mann-Kendall test and Sen's slope over the waves of each area and metric."""
    params = {"min_waves": monitoring.min_waves_for_trend, "significance": monitoring.significance}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.trends", "marts/trends.sql", params)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset_check(asset=trends, blocking=True, pool=DUCKDB_POOL)
def trends_consistent(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.AssetCheckResult:
    """Enough waves, p-value in [0, 1], a known direction, and no_change wherever p >= significance."""
    return _violations(jianfu, "select * from marts.trends "
                               "where n_waves < $min_waves or p_value not between 0 and 1 "
                               "or direction not in ('improving', 'worsening', 'no_change') "
                               "or (p_value >= $significance and direction <> 'no_change')",
                       {"min_waves": monitoring.min_waves_for_trend, "significance": monitoring.significance})


@dg.asset(group_name="marts", pool=DUCKDB_POOL,
          deps=[area_metrics, wave_changes, trends, inspection_target, reference_tables,
                dg.AssetKey("reporting_completeness")])
def alerts(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.alerts: the monitoring rules per league, with Chinese and English messages."""
    params = {"red_line_share": monitoring.red_line_share, "completeness_min": monitoring.completeness_min,
              "target": monitoring.inspection_reduction_target, "paper_reduction_ratio": monitoring.paper_reduction_ratio}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.alerts", "marts/alerts.sql", params)
        by_rule = dict(conn.execute("select rule, count(*) from marts.alerts group by rule order by rule").fetchall())
    return dg.MaterializeResult(metadata={"rows": rows, "by_rule": dg.MetadataValue.json(by_rule)})


@dg.asset_check(asset=alerts, blocking=True, pool=DUCKDB_POOL)
def alerts_name_a_league(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Every alert is about a league of ref.divisions and carries both messages."""
    return _violations(jianfu, "select * from marts.alerts "
                               "where area_code not in (select code from ref.divisions where level = 'league') "
                               "or coalesce(message, '') = '' or coalesce(message_en, '') = ''")
