"""Reports: the committee's offline HTML site, built from the marts."""

import dagster as dg
import plotly.graph_objects as go

from pipelines.partitions import DUCKDB_POOL
from pipelines.resources import JianfuResource

from assets.marts import data_quality


@dg.asset(group_name="reports", pool=DUCKDB_POOL, deps=[data_quality])
def report_site(jianfu: JianfuResource) -> dg.MaterializeResult:
    """reports/index.html: self-contained (plotly.js embedded) so it opens with no network."""
    with jianfu.connect(read_only=True) as conn:
        quality = conn.sql(
            "select wave, source, rows_accepted, rows_rejected from marts.data_quality "
            "where wave is not null order by wave, source").pl()
    figure = go.Figure()
    for source, label in (("teacher_survey", "教师问卷"), ("school_report", "学校报表")):
        rows = quality.filter(quality["source"] == source)
        figure.add_bar(x=rows["wave"].to_list(), y=rows["rows_accepted"].to_list(), name=f"{label}：接收")
        figure.add_bar(x=rows["wave"].to_list(), y=rows["rows_rejected"].to_list(), name=f"{label}：拒收")
    figure.update_layout(title="各轮次数据接收情况", xaxis_title="轮次", yaxis_title="行数")
    jianfu.reports_dir.mkdir(parents=True, exist_ok=True)
    index = jianfu.reports_dir / "index.html"
    figure.write_html(index, include_plotlyjs=True, full_html=True)
    return dg.MaterializeResult(metadata={"path": str(index)})
