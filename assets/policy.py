"""Policy caps: campus events staged, judged against ref.policy_rules, and tracked as cases."""

import dagster as dg

from assets.checks import offending_rows
from assets.ingest import campus_event_landing, reference_tables
from assets.quality import _validate
from assets.staging import school_report_staged, teacher_survey_staged
from pipelines.catalogue import rules
from pipelines.landing.state import run_month
from pipelines.partitions import DUCKDB_POOL
from pipelines.policy.cases import merge_cases
from pipelines.quality import expectations
from pipelines.resources import JianfuResource, MonitoringConfig
from pipelines.warehouse.tables import replace_table, stage_source


@dg.asset(
    key_prefix="staging",
    kinds={"duckdb"},
    group_name="staging",
    pool=DUCKDB_POOL,
    deps=[campus_event_landing, reference_tables],
)
def campus_event_staged(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """staging.campus_event_staged: every month at once, as event_id is unique across months."""
    with jianfu.connect() as conn:
        result = stage_source(conn, rules.CAMPUS_EVENT, run_month())
    context.log.info(
        f"campus_event: {result.received} received, {result.accepted} accepted, {result.rejected} rejected"
    )
    return dg.MaterializeResult(
        metadata={
            "rows_received": result.received,
            "rows_accepted": result.accepted,
            "rows_rejected": result.rejected,
            "rejections_by_reason": dg.MetadataValue.json(result.reasons),
        }
    )


@dg.asset_check(asset=campus_event_staged, blocking=True, pool=DUCKDB_POOL)
def campus_event_rows_accounted(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """received = accepted + rejected over every campus-event landing row."""
    return offending_rows(jianfu, campus_event_rows_accounted, {"source": rules.CAMPUS_EVENT}, inputs=("data_quality",))


@dg.asset_check(asset=campus_event_staged, blocking=True, pool=DUCKDB_POOL)
def campus_event_staged_expectations(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """The staged events meet the GX suite generated from the rule table."""
    return _validate(
        jianfu,
        expectations.staged_suite(rules.CAMPUS_EVENT),
        "quality/campus_event_staged_expectations.sql",
        "campus_events",
        {"wave": None},
        with_school_codes=True,
    )


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[campus_event_staged, reference_tables],
)
def policy_compliance(jianfu: JianfuResource) -> dg.MaterializeResult:
    """marts.policy_breaches (school level) and marts.policy_compliance (county, league, region)
    from the one evaluator of ref.policy_rules."""
    with jianfu.connect() as conn:
        breaches = replace_table(conn, "marts.policy_breaches", "marts/policy_breaches.sql")
        rows = replace_table(conn, "marts.policy_compliance", "marts/policy_compliance.sql")
        by_rule = dict(
            conn.execute("select rule_id, count(*) from marts.policy_breaches group by 1 order by 1").fetchall()
        )
    return dg.MaterializeResult(
        metadata={"rows": rows, "school_breaches": breaches, "by_rule": dg.MetadataValue.json(by_rule)}
    )


@dg.asset_check(asset=policy_compliance, blocking=True, pool=DUCKDB_POOL)
def policy_compliance_consistent(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Breaching schools are observed ones, and every breach exceeds its rule's limit."""
    return offending_rows(jianfu, policy_compliance_consistent)


@dg.asset(key_prefix="quality", kinds={"duckdb"}, group_name="quality", pool=DUCKDB_POOL, deps=[policy_compliance])
def breach_cases(jianfu: JianfuResource) -> dg.MaterializeResult:
    """quality.breach_cases: new breaches opened, vanished ones resolved; analysts' edits kept."""
    with jianfu.connect() as conn:
        result = merge_cases(conn)
    return dg.MaterializeResult(
        metadata={
            "open": result.open_cases,
            "in_data": result.in_data,
            "by_status": dg.MetadataValue.json(result.by_status),
        }
    )


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[campus_event_staged, school_report_staged, teacher_survey_staged, reference_tables],
)
def event_cross_checks(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.event_cross_checks: school reports and teachers against the event register."""
    params = {
        "window_months": rules.EVENT_WINDOW_MONTHS,
        "inspection_kinds": list(rules.INSPECTION_KINDS),
        "tolerance": rules.EVENT_COUNT_TOLERANCE,
        "paper_inspections": rules.PAPER_MIN_INSPECTIONS,
        "paper_item_share": rules.PAPER_MIN_ITEM_SHARE,
        "min_n": monitoring.min_cell_n,
    }
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.event_cross_checks", "marts/event_cross_checks.sql", params)
        flagged = dict(
            conn.execute(
                "select check_name, count(*) filter (where flagged) from marts.event_cross_checks group by 1 order by 1"
            ).fetchall()
        )
    return dg.MaterializeResult(metadata={"rows": rows, "flagged": dg.MetadataValue.json(flagged)})
