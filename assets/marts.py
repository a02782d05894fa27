"""Marts: the contract's monitoring tables, each rebuilt by its SQL file in one transaction."""

import dagster as dg

from assets.checks import offending_rows
from assets.ingest import reference_tables
from assets.staging import school_report_staged, teacher_survey_staged
from pipelines.catalogue import rules
from pipelines.estimation import small_area
from pipelines.estimation.uncertainty import register_quantiles
from pipelines.partitions import DUCKDB_POOL, waves_partitions
from pipelines.report.text import direction_labels
from pipelines.resources import JianfuResource, MonitoringConfig, load_sql
from pipelines.warehouse.tables import replace_table, replace_wave, replace_wave_in_memory


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[
        teacher_survey_staged,
        school_report_staged,
        dg.AssetKey(["marts", "reporting_completeness"]),
        dg.AssetKey(["staging", "campus_event_staged"]),
    ],
)
def data_quality(jianfu: JianfuResource) -> dg.MaterializeResult:
    """marts.data_quality: received = accepted + rejected per wave and source, and coverage."""
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.data_quality", "marts/data_quality.sql")
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[teacher_survey_staged, reference_tables],
)
def metrics_not_collected(jianfu: JianfuResource) -> dg.MaterializeResult:
    """marts.metrics_not_collected: metrics whose question the area's files lacked, shown as "not collected"."""
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.metrics_not_collected", "marts/metrics_not_collected.sql")
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    partitions_def=waves_partitions,
    deps=[teacher_survey_staged, school_report_staged, reference_tables, dg.AssetKey(["marts", "respondent_quality"])],
)
def area_metrics(
    context: dg.AssetExecutionContext, jianfu: JianfuResource, monitoring: MonitoringConfig
) -> dg.MaterializeResult:
    """marts.area_metrics for the partition's wave: post-stratified design-based estimates, their
    se, df, deff, t or Korn–Graubard intervals and reliability, under complementary suppression.

    The wave's design (staging.survey_design) and per-PSU sums (staging.survey_psu_sums) are kept as
    tables because wave_changes needs them to count the schools that recur between waves.
    """
    wave = {"wave": context.partition_key}
    params = {
        **wave,
        "min_n": monitoring.min_cell_n,
        "min_suppressed_total": rules.MIN_SUPPRESSED_TOTAL,
        "rse_caution": monitoring.rse_caution,
        "df_caution": rules.DF_CAUTION,
        "df_min": rules.DF_MIN,
        "confidence": rules.CONFIDENCE,
        "cancellation": rules.CANCELLATION,
    }
    with jianfu.connect() as conn:
        register_quantiles(conn)
        replace_wave(conn, "staging.survey_design", "staging/survey_design.sql", wave)
        replace_wave_in_memory(
            conn, "staging.survey_psu_sums", "staging/survey_psu_sums.sql", wave, context.log.warning
        )
        rows = replace_wave(conn, "marts.area_metrics", "marts/area_metrics.sql", params)
        counts = dict(
            conn.execute(
                "select coalesce(suppression, reliability, 'published'), count(*) from marts.area_metrics "
                "where wave = $wave group by 1",
                wave,
            ).fetchall()
        )
    return dg.MaterializeResult(metadata={"rows": rows, **{f"cells_{k}": v for k, v in counts.items()}})


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_no_small_published_cell(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.AssetCheckResult:
    """No published teacher cell rests on fewer than min_cell_n respondents."""
    return offending_rows(jianfu, area_metrics_no_small_published_cell, {"min_n": monitoring.min_cell_n})


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_no_lone_suppressed_sibling(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Where siblings are suppressed and one is published, the suppressed hold at least
    MIN_SUPPRESSED_TOTAL respondents: no small cell, nor small sum of cells, by subtraction."""
    return offending_rows(
        jianfu, area_metrics_no_lone_suppressed_sibling, {"min_suppressed_total": rules.MIN_SUPPRESSED_TOTAL}
    )


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_intervals_are_honest(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """No published interval has zero width (a Korn–Graubard bound may sit at 0 or 1), and none
    rests on fewer than DF_MIN degrees of freedom."""
    return offending_rows(jianfu, area_metrics_intervals_are_honest, {"df_min": rules.DF_MIN})


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_interval_holds_estimate(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """ci_low <= estimate <= ci_high wherever an interval is published."""
    return offending_rows(jianfu, area_metrics_interval_holds_estimate)


@dg.asset_check(asset=area_metrics, blocking=True, pool=DUCKDB_POOL)
def area_metrics_shares_in_range(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Shares lie in [0, 1]; felt_net, a difference of two shares, in [-1, 1]."""
    return offending_rows(jianfu, area_metrics_shares_in_range)


@dg.asset(key_prefix="marts", kinds={"duckdb"}, group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics])
def inspection_target(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.inspection_target: inspections per school against the baseline wave, per area and wave."""
    params = {"baseline_wave": monitoring.baseline_wave, "target": monitoring.inspection_reduction_target}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.inspection_target", "marts/inspection_target.sql", params)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset_check(asset=inspection_target, blocking=True, pool=DUCKDB_POOL)
def inspection_target_one_baseline(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """A single baseline wave, and every area's reduction there is 0 (or unknown)."""
    return offending_rows(jianfu, inspection_target_one_baseline)


@dg.asset(key_prefix="marts", kinds={"duckdb"}, group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics])
def wave_changes(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.wave_changes: each published estimate against the previous wave's, with a t-test whose
    SE comes from the two waves stacked in one design, so recurring schools count."""
    params = {
        "significance": monitoring.significance,
        "confidence": rules.CONFIDENCE,
        "df_min": rules.DF_MIN,
        "cancellation": rules.CANCELLATION,
    }
    with jianfu.connect() as conn:
        register_quantiles(conn)
        rows = replace_table(conn, "marts.wave_changes", "marts/wave_changes.sql", params)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset_check(asset=wave_changes, blocking=True, pool=DUCKDB_POOL)
def wave_changes_consistent(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """change = estimate − previous, inside its interval, p-value in [0, 1]."""
    return offending_rows(jianfu, wave_changes_consistent)


@dg.asset(key_prefix="marts", kinds={"duckdb"}, group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics])
def trends(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.trends: Mann-Kendall test and Sen's slope over the waves of each area and metric;
    directions on Benjamini–Hochberg q-values over all the table's tests."""
    params = {"min_waves": monitoring.min_waves_for_trend, "significance": monitoring.significance}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.trends", "marts/trends.sql", params)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset_check(asset=trends, blocking=True, pool=DUCKDB_POOL)
def trends_consistent(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.AssetCheckResult:
    """Enough waves, p <= q <= 1, a known direction, and no_change wherever q >= significance."""
    return offending_rows(
        jianfu,
        trends_consistent,
        {"min_waves": monitoring.min_waves_for_trend, "significance": monitoring.significance},
    )


COVARIATES = ["share_primary", "share_junior", "share_urban", "share_town"]


@dg.asset(
    key_prefix="marts", kinds={"duckdb"}, group_name="marts", pool=DUCKDB_POOL, deps=[area_metrics, reference_tables]
)
def county_estimates(jianfu: JianfuResource) -> dg.MaterializeResult:
    """marts.county_estimates: Fay–Herriot EBLUPs for every county and teacher metric, so thin
    counties get a model-based figure beside their direct one. Only county aggregates leave SQL."""
    with jianfu.connect() as conn:
        covariates = conn.sql(load_sql("marts/county_covariates.sql")).pl()
        cells = conn.sql(
            "select wave, area_code, metric, estimate, se, df, n, reliability "
            "from marts.area_metrics join meta.metrics using (metric) "
            "where area_level = 'county' and source = 'teacher_survey' "
            "order by wave, metric, area_code"
        ).pl()
        kinds = dict(conn.execute("select metric, kind from meta.metrics").fetchall())
        bounds = {
            m: ((-1.0, 1.0) if m == "felt_net" else (0.0, 1.0)) for m, k in kinds.items() if k in ("share", "ratio")
        }
        fit = small_area.county_estimates(cells, covariates, COVARIATES, bounds)
        conn.register("county_estimates_fit", fit)
        rows = replace_table(conn, "marts.county_estimates", "marts/county_estimates.sql")
        conn.unregister("county_estimates_fit")
    return dg.MaterializeResult(metadata={"rows": rows, "models": fit.select("wave", "metric").n_unique()})


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[
        area_metrics,
        wave_changes,
        trends,
        inspection_target,
        reference_tables,
        dg.AssetKey(["marts", "reporting_completeness"]),
        dg.AssetKey(["marts", "policy_compliance"]),
    ],
)
def alerts(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.alerts: the monitoring rules per league, with Chinese and English messages."""
    params = {
        "red_line_share": monitoring.red_line_share,
        "completeness_min": monitoring.completeness_min,
        "target": monitoring.inspection_reduction_target,
        "paper_reduction_ratio": monitoring.paper_reduction_ratio,
        "significance": monitoring.significance,
        "direction_labels": direction_labels(),
    }
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.alerts", "marts/alerts.sql", params)
        by_rule = dict(conn.execute("select rule, count(*) from marts.alerts group by rule order by rule").fetchall())
    return dg.MaterializeResult(metadata={"rows": rows, "by_rule": dg.MetadataValue.json(by_rule)})


@dg.asset_check(asset=alerts, blocking=True, pool=DUCKDB_POOL)
def alerts_name_a_league(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Every alert is about a league of ref.divisions and carries both messages."""
    return offending_rows(jianfu, alerts_name_a_league)
