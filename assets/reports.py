"""Reports: the committee's offline HTML site, built from the marts."""

import dagster as dg

from assets.marts import (
    alerts,
    area_metrics,
    county_estimates,
    data_quality,
    inspection_target,
    metrics_not_collected,
    trends,
    wave_changes,
)
from assets.quality import data_docs, data_docs_dir, outliers, reporting_completeness, source_consistency
from pipelines.catalogue.questionnaire import questionnaire_path
from pipelines.partitions import DUCKDB_POOL
from pipelines.report.site import load_report_data, publish_site
from pipelines.resources import JianfuResource, MonitoringConfig


@dg.asset(
    key_prefix="reports",
    kinds={"plotly", "html"},
    group_name="reports",
    pool=DUCKDB_POOL,
    deps=[
        area_metrics,
        inspection_target,
        trends,
        wave_changes,
        alerts,
        data_quality,
        metrics_not_collected,
        reporting_completeness,
        outliers,
        source_consistency,
        data_docs,
        county_estimates,
        dg.AssetKey(["marts", "respondent_quality"]),
    ],
)
def report_site(
    context: dg.AssetExecutionContext, jianfu: JianfuResource, monitoring: MonitoringConfig
) -> dg.MaterializeResult:
    """reports/: one page set per wave plus latest/, Chinese with English twins, plotly.js shipped once.

    It only reads, yet takes the DuckDB pool: DuckDB refuses a read-only open while another process writes.
    It runs after Data Docs so that it can link them, and publishes atomically (the old site stays on failure).
    The configured thresholds reach every chart and sentence, so a 10% red line is drawn at 10%.
    With chromium on PATH (and print_pdfs on) the entry page and the league pages are printed to latest/pdf/; without, one line says so.
    """
    with jianfu.connect(read_only=True) as conn:
        data = load_report_data(conn, questionnaire_path(jianfu.root), monitoring.thresholds())
    summary = publish_site(data, jianfu.reports_dir, data_docs_dir(jianfu), pdf=monitoring.print_pdfs)
    if summary.note:
        context.log.warning(summary.note)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(jianfu.reports_dir / "index.html")),
            "pages": summary.pages,
            "charts": summary.charts,
            "size_mb": round(summary.bytes / 2**20, 2),
            "page_sets": dg.MetadataValue.json(summary.sets),
            "pdfs": len(summary.pdfs),
            "note": summary.note,
        }
    )
