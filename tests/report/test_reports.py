"""The report site: page builders on hand-made frames, and the site a small generated run publishes."""

from __future__ import annotations

import csv
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
import pytest
from conftest import build_demo
from markupsafe import Markup

from pipelines.catalogue.metrics import METRIC_BY_NAME
from pipelines.landing.scan import decode_text
from pipelines.report.blocks import CHART_CONFIG, UNICODE_ESCAPE, Chart, _unescape, plotly_json
from pipelines.report.breakdowns import item_heatmap_figure
from pipelines.report.data import REPORT_METRICS, ReportData, load_report_data
from pipelines.report.figures import trend_figure
from pipelines.report.format import SUPPRESSED, format_cell, metric_title
from pipelines.report.pages import build_pages
from pipelines.report.plot import subplots
from pipelines.report.site import LATEST, PLOTLY_JS, build_site, site_size
from pipelines.report.tables import alerts_table, county_table
from pipelines.report.text import text
from pipelines.resources import SHIPPED_REFERENCE_DIR

WAVES = ["2024-05", "2024-11"]
REGION, HOHHOT, BAOTOU = "150000", "150100", "150200"
XINCHENG, HUIMIN, KUNDULUN = "150102", "150103", "150203"
CJK = re.compile(r"[\u4e00-\u9fff]")
HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
SIZE_LIMIT = 20 * 2**20


def _divisions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": [REGION, HOHHOT, XINCHENG, HUIMIN, BAOTOU, KUNDULUN],
            "name_zh": ["内蒙古自治区", "呼和浩特市", "新城区", "回民区", "包头市", "昆都仑区"],
            "name_en": [
                "Inner Mongolia",
                "Hohhot",
                "Xincheng District",
                "Huimin District",
                "Baotou",
                "Kundulun District",
            ],
            "level": ["region", "league", "county", "county", "league", "county"],
            "parent_code": [None, REGION, HOHHOT, HOHHOT, REGION, BAOTOU],
        }
    )


def _items() -> pl.DataFrame:
    return pl.read_csv(SHIPPED_REFERENCE_DIR / "burden_items.csv").select(
        "item_no", "category_no", "text_zh", "text_en", "red_line"
    )


def _cell(wave, area, metric, estimate, n=120, suppressed=False) -> dict:
    level = {REGION: "region", HOHHOT: "league", BAOTOU: "league"}.get(area, "county")
    if suppressed:
        return dict(
            wave=wave,
            area_level=level,
            area_code=area,
            metric=metric,
            estimate=None,
            ci_low=None,
            ci_high=None,
            n=n,
            suppressed=True,
            reliability=None,
        )
    half = 0.1 * abs(estimate) + 0.01
    return dict(
        wave=wave,
        area_level=level,
        area_code=area,
        metric=metric,
        estimate=estimate,
        ci_low=estimate - half,
        ci_high=estimate + half,
        n=n,
        suppressed=False,
        reliability="ok",
    )


def _metrics(suppressed: set[tuple[str, str, str]]) -> pl.DataFrame:
    """Every report metric for every area and wave; (wave, area, metric) in `suppressed` are ‡."""
    rows = []
    for w, wave in enumerate(WAVES):
        for area in (REGION, HOHHOT, BAOTOU, XINCHENG, HUIMIN, KUNDULUN):
            for metric in REPORT_METRICS:
                kind = METRIC_BY_NAME[metric].kind
                value = {"share": 0.02, "ratio": 0.2, "per_school": 8.0 - 3 * w, "total": 1.0}.get(kind, 12.0 - w)
                if metric == "felt_net":
                    value = -0.1 + 0.2 * w
                if metric == "item_15" and area == BAOTOU:
                    value = 0.25
                if metric == "item_06":
                    value = 0.2
                small = area == HUIMIN and wave == WAVES[1]
                rows.append(
                    _cell(
                        wave,
                        area,
                        metric,
                        value,
                        n=4 if small else 120,
                        suppressed=(wave, area, metric) in suppressed or small,
                    )
                )
    return pl.DataFrame(rows)


def tiny_data(suppressed: set[tuple[str, str, str]] = frozenset()) -> ReportData:
    """Two leagues, three counties, two waves; Huimin District's second wave is suppressed (n = 4)."""
    inspection = pl.DataFrame(
        [
            dict(
                area_level="league" if a != REGION else "region",
                area_code=a,
                wave=w,
                baseline_wave=WAVES[0],
                inspections_per_school=per,
                baseline_per_school=8.0,
                reduction_pct=1 - per / 8.0,
                target_met=1 - per / 8.0 >= 0.5,
                n_schools=40,
                baseline_n_schools=41,
            )
            for a in (REGION, HOHHOT, BAOTOU)
            for w, per in zip(WAVES, (8.0, 3.5 if a != BAOTOU else 6.0))
        ]
    )
    alerts = pl.DataFrame(
        [
            dict(
                wave=WAVES[1],
                area_level="league",
                area_code=BAOTOU,
                rule="red_line_item",
                severity="high",
                metric="item_15",
                value=0.25,
                threshold=0.05,
                message="包头市：清单第15条所列情形发生比例为25.0%",
                message_en="Baotou: list item 15 at 25.0%",
            ),
            dict(
                wave=WAVES[1],
                area_level="league",
                area_code=BAOTOU,
                rule="inspection_target_missed",
                severity="medium",
                metric="school_inspections_per_school",
                value=0.25,
                threshold=0.5,
                message="包头市：未达到减少50%以上的目标",
                message_en="Baotou: inspection target missed",
            ),
            dict(
                wave=WAVES[0],
                area_level="league",
                area_code=HOHHOT,
                rule="low_completeness",
                severity="medium",
                metric=None,
                value=0.7,
                threshold=0.8,
                message="呼和浩特市：填报率70%",
                message_en="Hohhot: 70% reported",
            ),
        ]
    )
    loads = pl.DataFrame(
        [
            dict(
                wave=w,
                source=s,
                rows_received=100,
                rows_accepted=97,
                rows_rejected=3,
                schools_expected=80,
                schools_reporting=78,
                completeness=78 / 80,
            )
            for w in WAVES
            for s in ("teacher_survey", "school_report")
        ]
        + [
            dict(
                wave=None,
                source="teacher_survey",
                rows_received=2,
                rows_accepted=0,
                rows_rejected=2,
                schools_expected=None,
                schools_reporting=None,
                completeness=None,
            )
        ]
    )
    completeness = pl.DataFrame(
        [
            dict(
                wave=w,
                area_level="league",
                area_code=a,
                schools_expected=40,
                schools_reporting=39 if a == HOHHOT else 30,
                completeness=(39 if a == HOHHOT else 30) / 40,
                schools_on_time=30,
                on_time_share=0.75,
            )
            for w in WAVES
            for a in (HOHHOT, BAOTOU)
        ]
    )
    rejected = pl.DataFrame(
        [
            dict(
                source="teacher_survey", wave=WAVES[1], kind="out_of_range", column_name="hours_cat1", rows_rejected=2
            ),
            dict(source="school_report", wave=WAVES[1], kind="superseded", column_name=None, rows_rejected=1),
            dict(source="teacher_survey", wave=None, kind="malformed", column_name="wave", rows_rejected=2),
        ]
    )
    return ReportData(
        divisions=_divisions(),
        items=_items(),
        metrics=_metrics(set(suppressed)),
        inspection=inspection,
        trends=pl.DataFrame(
            schema={"area_level": pl.String, "area_code": pl.String, "metric": pl.String, "direction": pl.String}
        ),
        alerts=alerts,
        loads=loads,
        completeness=completeness,
        rejected=rejected,
        rejected_files=pl.DataFrame(
            {"source": ["teacher_survey"], "file": ["broken.xlsx"], "reason": ["not a readable XLSX workbook"]}
        ),
    )


def test_a_suppressed_cell_renders_a_dagger_never_zero_or_blank():
    data = tiny_data()
    cell = data.cell(WAVES[1], HUIMIN, "hours_nonteaching")
    assert cell["suppressed"] and format_cell("hours_nonteaching", cell) == SUPPRESSED
    table = county_table(data, WAVES[1], HOHHOT, "zh")
    huimin = next(row for row in table.rows if row[0].text == "回民区")
    figures = [c.text for c in huimin[1:4]]
    assert figures == [SUPPRESSED] * 3
    assert all(c.cls.startswith("suppressed") for c in huimin[1:4])
    assert huimin[4].text == SUPPRESSED and huimin[4].sort is None, "n under 10 is not shown, nor sorted by"
    xincheng = next(row for row in table.rows if row[0].text == "新城区")
    assert xincheng[1].text == "11.0 [9.9, 12.1]"


def test_thin_counties_show_the_model_based_figure_beside_the_direct_one():
    import dataclasses

    models = pl.DataFrame(
        [
            dict(
                wave=WAVES[1],
                area_code=HUIMIN,
                metric="hours_nonteaching",
                estimate=12.34,
                rmse=0.5,
                method="synthetic",
            ),
            dict(wave=WAVES[1], area_code=XINCHENG, metric="felt_net", estimate=0.2, rmse=0.05, method="eblup"),
        ]
    )
    data = dataclasses.replace(tiny_data(), county_models=models)
    table = county_table(data, WAVES[1], HOHHOT, "zh")
    huimin = next(row for row in table.rows if row[0].text == "回民区")
    assert huimin[1].text == f"{SUPPRESSED} ｜ 模型估计 12.3 ±1.0" and "model" in huimin[1].cls
    xincheng = next(row for row in table.rows if row[0].text == "新城区")
    assert xincheng[1].text == "11.0 [9.9, 12.1]", "a county without a model row shows its direct figure only"
    assert xincheng[2].text.startswith(format_cell("felt_net", data.cell(WAVES[1], XINCHENG, "felt_net")))
    assert xincheng[2].text.endswith("模型估计 +20.0 ±9.8"), "felt_net is a difference of shares: in points"
    english = county_table(data, WAVES[1], HOHHOT, "en")
    assert "model-based 12.3" in next(r for r in english.rows if r[0].text == "Huimin District")[1].text


def test_a_published_share_shows_percent_with_its_interval_and_caution_mark():
    cell = _cell(WAVES[0], REGION, "focus_share", 0.125) | {"reliability": "caution"}
    assert format_cell("focus_share", cell) == "12.5% [10.2%, 14.8%]*"
    net = _cell(WAVES[0], REGION, "felt_net", 0.125) | {"reliability": "caution"}
    assert format_cell("felt_net", net) == "+12.5 [+10.2, +14.8]*", "a difference of shares is in points"
    assert metric_title("felt_net", "zh").endswith("（百分点）")
    assert metric_title("felt_net", "en").endswith("(percentage points)")
    assert format_cell("felt_net", None) == "—"


def validated(fig: dict) -> go.Figure:
    """A chart's JSON through plotly's validation (the site writes it unvalidated): a misspelt property fails here."""
    return go.Figure(fig)


def test_heatmap_marks_the_11_red_line_items_and_boxes_cells_over_the_threshold():
    data = tiny_data()
    fig = validated(item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "zh"))
    labels = list(fig.data[0].y)
    tagged = [i for i, y in enumerate(labels, start=1) if "【红线】" in y]
    assert len(tagged) == 11 == data.items["red_line"].sum()
    assert tagged == data.items.filter(pl.col("red_line"))["item_no"].to_list()
    boxes = [(s.x0 + 0.5, s.y0 + 0.5) for s in fig.layout.shapes]
    assert boxes == [(2, 14)], "Baotou's item 15 at 25%; item 6 at 20% is not a red-line item"
    english = validated(item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "en"))
    assert sum("[red line]" in y for y in english.data[0].y) == 11


def test_heatmap_shows_a_suppressed_cell_as_a_dagger():
    data = tiny_data(suppressed={(WAVES[1], HOHHOT, "item_03")})
    fig = validated(item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "zh"))
    assert fig.data[0].z[2][1] is None and fig.data[0].text[2][1] == SUPPRESSED
    overlay = fig.data[1]
    assert list(overlay.text) == [SUPPRESSED] and list(overlay.x) == ["呼和浩特市"]


def test_trend_marks_a_suppressed_wave_with_a_dagger_and_draws_intervals():
    data = tiny_data()
    fig = validated(trend_figure(data, WAVES[1], [HUIMIN], "zh", "t", show_direction=False, per_row=1))
    daggers = [a for a in fig.layout.annotations if a.text == SUPPRESSED]
    assert len(daggers) == 2 and {a.x for a in daggers} == {WAVES[1]}
    estimates = [t for t in fig.data if t.mode == "lines+markers"]
    assert [list(t.y) for t in estimates] == [[12.0, None], [-10.0, None]], "felt_net drawn in points"
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(bands) == 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_has_title_axis_titles_source_line_and_interval_hover(lang):
    data = tiny_data()
    pages = build_pages(data, WAVES[1], lang, None)
    charts = [c for p in pages for c in p.charts]
    assert len(charts) == 10 + 2 * len(data.leagues)
    for chart in charts:
        figure = validated(chart.figure)
        layout = figure.layout
        assert layout.title.text, chart.chart_id
        sources = [a.text for a in layout.annotations if a.name == "source"]
        assert len(sources) == 1 and WAVES[1] in sources[0] and "n = " in sources[0], chart.chart_id
        axes = figure.to_dict()["layout"]
        assert any(v.get("title", {}).get("text") for k, v in axes.items() if k.startswith("xaxis")), chart.chart_id
        assert any(v.get("title", {}).get("text") for k, v in axes.items() if k.startswith("yaxis")), chart.chart_id
        for trace in figure.data:
            if trace.hoverinfo == "skip" or trace.hovertemplate is None:
                continue
            assert text("interval", lang) in trace.hovertemplate or text("hover_census", lang) in trace.hovertemplate, (
                chart.chart_id,
                trace.hovertemplate,
            )


@pytest.mark.parametrize(
    ("rows", "cols", "grid"),
    [
        (1, 1, {}),
        (1, 2, {"shared_yaxes": True, "horizontal_spacing": 0.06}),
        (1, 3, {"titles": ["a", "b", "c"], "horizontal_spacing": 0.1}),
        (1, 2, {"titles": ["a", "b"], "horizontal_spacing": 0.1, "vertical_spacing": 0.1}),
        (
            4,
            4,
            {"titles": [f"t{i}" for i in range(14)] + ["", ""], "horizontal_spacing": 0.07, "vertical_spacing": 0.08},
        ),
        (7, 4, {"titles": ["t"] * 26 + ["", ""], "horizontal_spacing": 0.07, "vertical_spacing": 95 / 1950}),
    ],
)
def test_subplot_grids_are_laid_out_as_make_subplots_does(rows, cols, grid):
    from plotly.subplots import make_subplots

    titles = grid.pop("titles", None)
    expected = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **grid).to_dict()["layout"]
    expected.pop("template")
    assert subplots(rows, cols, titles, **grid)["layout"] == expected


def test_charts_are_written_as_plotly_io_writes_them():
    """Chart.markup is plotly.io.to_html's div and script byte for byte, NaN as null, < > / escaped in the JSON."""
    from decimal import Decimal

    value = {"text": "</script><b>全区</b>", "x": [float("nan"), 1.5, None, Decimal("0.25")], "y": float("inf")}
    assert plotly_json(value) == pio.to_json(value, validate=False, engine="json")
    data = tiny_data()
    for chart in build_pages(data, WAVES[1], "zh", None)[0].charts + [Chart("nan", {"data": [value], "layout": {}})]:
        layout = chart.figure["layout"]
        expected = pio.to_html(
            chart.figure,
            validate=False,
            include_plotlyjs=False,
            full_html=False,
            div_id=chart.chart_id,
            config=CHART_CONFIG,
            default_width="100%",
            default_height=f"{layout.get('height') or 450}px",
        )
        assert chart.markup == UNICODE_ESCAPE.sub(_unescape, expected), chart.chart_id


def test_alerts_table_carries_filter_keys_and_defaults_to_the_report_wave():
    data = tiny_data()
    table = alerts_table(data, WAVES[1], "zh", table_id="alerts")
    assert [r["rule"] for r in table.row_data] == ["red_line_item", "inspection_target_missed", "low_completeness"]
    filters = {f["key"]: f for f in table.filters}
    assert filters["wave"]["selected"] == WAVES[1]
    assert dict(filters["league"]["options"]) == {HOHHOT: "呼和浩特市", BAOTOU: "包头市"}
    assert table.rows[0][4].text == "25.0%"
    earlier = alerts_table(data, WAVES[0], "en", table_id="alerts")
    assert [r["wave"] for r in earlier.row_data] == [WAVES[0]], "a wave's set shows no later alert"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("href", "src") and v]


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


def test_site_has_a_set_per_wave_and_latest_each_in_chinese_and_english_with_working_links(tmp_path):
    data = tiny_data()
    summary = build_site(data, tmp_path / "reports")
    site = tmp_path / "reports"
    counties = [c for league in data.leagues for c in data.counties(league)]
    pages_per_set = 7 + len(data.leagues) + len(counties)
    assert summary.sets == [LATEST, *reversed(WAVES)]
    assert summary.pages == 3 * 2 * pages_per_set + 2
    for html in site.rglob("*.html"):
        for link in _links(html):
            assert not link.startswith(("http:", "https:", "//")), (html, link)
            target = (html.parent / link.split("#")[0]).resolve()
            assert target.is_file() and site.resolve() in target.parents, (html, link)
    zh, en = (site / LATEST / "index.html").read_text(), (site / LATEST / "en" / "index.html").read_text()
    assert '<html lang="zh-CN">' in zh and "总览" in zh and "周非教学负担时长" in zh
    assert '<html lang="en">' in en and "Overview" in en and "Weekly non-teaching hours" in en
    assert not CJK.search(re.sub(r"<script.*?</script>", "", en, flags=re.S).replace("中文", "")), (
        "the English page's own text is English (the language switch aside)"
    )
    assert "‡" in (site / LATEST / "league-150100.html").read_text()
    assert len(list(site.rglob("plotly*.js"))) == 1
    assert (site / "assets" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes()


def test_site_build_keeps_data_docs_and_links_them(tmp_path):
    site = tmp_path / "reports"
    (site / "data_docs").mkdir(parents=True)
    (site / "data_docs" / "index.html").write_text("<html></html>")
    (site / "2020-01").mkdir()
    build_site(tiny_data(), site)
    assert (site / "data_docs" / "index.html").is_file()
    assert not (site / "2020-01").exists(), "a stale wave set is removed"
    quality = (site / LATEST / "quality.html").read_text()
    assert 'href="../data_docs/index.html"' in quality
    assert 'href="../../data_docs/index.html"' in (site / LATEST / "en" / "quality.html").read_text()


def test_quality_page_says_when_quality_marts_are_not_built(tmp_path):
    pages = build_pages(tiny_data(), WAVES[1], "zh", None)
    quality = next(p for p in pages if p.key == "quality")
    notes = [str(b.html) for s in quality.sections for b in s.blocks if b.kind == "note"]
    assert text("quality_extra_missing", "zh") in notes and text("data_docs_missing", "zh") in notes


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.getbasetemp())


def test_demo_site_is_published_by_the_pipeline_and_lean(demo):
    site = demo / "reports"
    assert (site / "index.html").is_file() and (site / "en" / "index.html").is_file()
    waves = sorted(p.name for p in site.iterdir() if re.fullmatch(r"\d{4}-\d{2}", p.name))
    assert len(waves) == 3 and (site / LATEST / "index.html").is_file()
    total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    assert site_size(site) < total or not (site / "data_docs").exists()
    pdfs = sum(f.stat().st_size for f in (site / LATEST / "pdf").glob("*.pdf"))
    pages = sum(f.stat().st_size for f in site.rglob("*.html") if "data_docs" not in f.parts)
    assert site_size(site) - pdfs < SIZE_LIMIT, f"the browsable site is {(site_size(site) - pdfs) / 2**20:.1f} MB"
    assert pages < 12 * 2**20, f"{pages / 2**20:.1f} MB of pages (970 of them, 824 county pages included)"
    assert pdfs < 12 * 2**20, f"the printable PDFs are {pdfs / 2**20:.1f} MB"


def test_demo_site_embeds_no_identifier_and_no_row_level_data(demo):
    """No teacher identifier anywhere; school codes and names only of breaching or flagged schools, on the
    政策红线 and county pages (institutions, as issue 14 asks), nowhere else."""
    site = demo / "reports"
    landing = pl.concat(
        [
            pl.read_csv(
                decode_text(f.read_bytes()).encode("utf-8"), infer_schema=False, columns=["response_id", "teacher_id"]
            )
            for f in (demo / "landing" / "teacher_survey").glob("teacher_survey_*.csv")
        ]
    )
    assert landing.height > 500
    schools = pl.read_csv(demo / "reference" / "schools.csv", infer_schema=False)
    identifiers = (
        set(landing["teacher_id"].drop_nulls()) | set(landing["response_id"].drop_nulls()) | set(schools["school_code"])
    )
    key = os.environ.get("JIANFU_ID_KEY") or (demo / "id_key").read_text().strip()
    with duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True) as conn:
        institutions = {
            code
            for (code,) in conn.sql(
                "select school_code from quality.breach_cases union "
                "select school_code from marts.event_cross_checks where flagged"
            ).fetchall()
        }
    assert institutions, "the demo plants policy-cap breaches"
    named = set(schools.filter(pl.col("school_code").is_in(list(institutions)))["school_name"])
    assert (site / "assets" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes(), "plotly.js as shipped"
    checked = 0
    for f in site.rglob("*"):
        if (
            not f.is_file()
            or "data_docs" in f.parts
            or f.suffix not in (".html", ".css", ".js")
            or f.name == "plotly.min.js"
        ):
            continue
        body = f.read_text(encoding="utf-8", errors="replace")
        assert not HEX64.search(body), f"a 64-hex string (pseudonym?) in {f}"
        assert "raw_json" not in body and "teacher_pseudonym" not in body and key not in body
        policy = f.name == "policy.html" or "county" in f.parts
        allowed = institutions if policy else set()
        found = set(re.findall(r"[A-Za-z0-9]+", body)) & identifiers - allowed
        assert not found, f"identifiers {sorted(found)[:5]} in {f}"
        names = [n for n in schools["school_name"] if n in body and not (policy and n in named)]
        assert not names, f"school names {names[:5]} in {f}"
        checked += 1
    assert checked > 50


def test_a_run_without_landing_files_publishes_an_index_that_says_so(empty_landing_run):
    summary = empty_landing_run[2]
    assert summary.waves == []
    index = (summary.reports_dir / "index.html").read_text()
    assert text("no_waves", "zh") in index
    assert text("no_waves", "en") in (summary.reports_dir / "en" / "index.html").read_text()
    assert not (summary.reports_dir / LATEST).exists()


def test_item_labels_follow_the_data_directorys_questionnaire(demo, tmp_path):
    """A bureau that reworded item 3 sees its own question on the heat map, as its importer read it."""
    shipped = (SHIPPED_REFERENCE_DIR / "questionnaire.csv").read_text(encoding="utf-8").splitlines()
    header = shipped[0].split(",")
    override = tmp_path / "questionnaire.csv"
    reworded = []
    for line in shipped[1:]:
        row = next(csv.reader([line]))
        if row[header.index("column")] == "item_03":
            row[header.index("text_zh")] = "本学期是否被要求参加与教学无关的评比"
        reworded.append(row)
    with override.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows([header, *reworded])
    with duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True) as conn:
        data = load_report_data(conn, override)
    labels = validated(item_heatmap_figure(data, data.latest_wave, [data.region], "zh")).data[0].y
    assert any("本学期是否被要求参加与教学" in label for label in labels)


def test_a_configured_red_line_moves_the_heatmap_boxes_and_every_sentence():
    """A deployment with a 30% red line, a 60% target and a 90% completeness floor sees those, not the defaults."""
    import dataclasses

    from pipelines.catalogue.metrics import Thresholds

    strict = Thresholds(red_line_share=0.30, inspection_reduction_target=0.60, completeness_min=0.90, min_cell_n=15)
    data = dataclasses.replace(tiny_data(), thresholds=strict)
    fig = validated(item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "zh"))
    assert list(fig.layout.shapes) == [], "Baotou's item 15 at 25% is under a 30% red line"
    looser = dataclasses.replace(tiny_data(), thresholds=Thresholds(red_line_share=0.02))
    boxes = {
        (s.x0 + 0.5, s.y0 + 0.5)
        for s in validated(item_heatmap_figure(looser, WAVES[1], [REGION, HOHHOT, BAOTOU], "zh")).layout.shapes
    }
    red_lines = data.items.filter(pl.col("red_line"))["item_no"].to_list()
    assert boxes == {(j, i - 1) for i in red_lines for j in range(3)}, "every red-line cell at 2% is at a 2% line"
    pages = {p.key: p for p in build_pages(data, WAVES[1], "zh", None)}
    breakdowns = pages["breakdowns"].sections[0].intro
    assert "达到30%预警阈值" in breakdowns and "5%" not in breakdowns
    assert any("少于15人" in f for f in pages["index"].footnotes)
    inspection = pages["inspection"]
    assert "减少60%以上为达标" in inspection.sections[0].intro
    chart = validated(inspection.charts[0].figure)
    assert [s.x0 for s in chart.layout.shapes] == [0.60] and "60%" in chart.layout.title.text
    assert [k["detail"] for k in pages["index"].kpis if k["detail"].startswith("目标")] == ["目标：减少60%以上"]
    quality = pages["quality"]
    assert "低于90%触发预警" in quality.sections[1].intro
    english = {p.key: p for p in build_pages(data, WAVES[1], "en", None)}
    assert "30% alert threshold" in english["breakdowns"].sections[0].intro


def test_the_published_site_uses_the_configured_thresholds(demo, tmp_path):
    """The report asset passes MonitoringConfig's thresholds: a 10% red line is written as 10% on the site."""
    import shutil

    from assets.reports import report_site
    from pipelines.resources import JianfuResource, MonitoringConfig

    copy = tmp_path / "configured"
    shutil.copytree(demo, copy, ignore=shutil.ignore_patterns("reports", "data_docs"))
    result = dg.materialize(
        [report_site],
        resources={
            "jianfu": JianfuResource(data_dir=str(copy)),
            "monitoring": MonitoringConfig(red_line_share=0.10, completeness_min=0.85, print_pdfs=False),
        },
    )
    assert result.success
    breakdowns = (copy / "reports" / LATEST / "breakdowns.html").read_text(encoding="utf-8")
    assert "达到10%预警阈值" in breakdowns and "达到5%预警阈值" not in breakdowns
    quality = (copy / "reports" / LATEST / "en" / "quality.html").read_text(encoding="utf-8")
    assert "under 85% raises an alert" in quality


def test_entry_page_is_the_answer_headline_verdicts_and_links(tmp_path):
    """reports/index.html: felt_net in points with its interval, the inspection verdict, alerts by severity."""
    data = tiny_data()
    build_site(data, tmp_path / "reports", pdf=False)
    zh = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    en = (tmp_path / "reports" / "en" / "index.html").read_text(encoding="utf-8")
    assert "全区减负成效（2024-11轮）" in zh and "The region at a glance (wave 2024-11)" in en
    assert "+10.0" in zh and "百分点" in zh and "95%置信区间 [+8.0, +12.0]" in zh
    assert "percentage points" in en and "+10.0%" not in zh + en, "felt_net is never a percentage"
    assert "56.2%" in zh and "已达标" in zh and "未达标" in zh, "the region met the target, Baotou (25%) did not"
    assert ">met<" in en and ">not met<" in en
    assert "高 1；中 1；低 0" in zh and "high 1; medium 1; low 0" in en
    for href in (
        "latest/league-150200.html",
        "latest/county/150203.html",
        "2024-05/index.html",
        "latest/breakdowns.html",
    ):
        assert f'href="{href}"' in zh, href
    assert 'href="../latest/en/county/150102.html"' in en
    assert "pdf" not in re.sub(r"<script.*?</script>", "", zh, flags=re.S).lower(), "no PDF link without PDFs"


def test_baseline_wave_shows_no_reduction_rather_than_a_red_zero():
    data = tiny_data()
    pages = {p.key: p for p in build_pages(data, WAVES[0], "zh", None)}
    tracker = pages["inspection"].sections[0].blocks[1]
    region = tracker.rows[0]
    assert region[2].text == "—" and "missed" not in region[2].cls and "基线" in region[2].title
    assert [k["value"] for k in pages["index"].kpis][2] == "—"
    later = {p.key: p for p in build_pages(data, WAVES[1], "zh", None)}["inspection"].sections[0].blocks[1]
    assert later.rows[0][2].text == "—" and later.rows[0][3].text == "✓ 56.2%"


def test_alert_values_are_points_or_percentages_never_fractions():
    import dataclasses

    extra = pl.DataFrame(
        [
            dict(
                wave=WAVES[1],
                area_level="league",
                area_code=HOHHOT,
                rule="not_felt",
                severity="high",
                metric="felt_net",
                value=-0.039,
                threshold=None,
                message="m",
                message_en="m",
            )
        ]
    )
    data = dataclasses.replace(tiny_data(), alerts=pl.concat([tiny_data().alerts, extra]))
    table = alerts_table(data, WAVES[1], "zh", table_id="alerts")
    values = {r["rule"]: row[4].text for r, row in zip(table.row_data, table.rows)}
    assert values["not_felt"] == "-3.9个百分点" and values["inspection_target_missed"] == "25.0%"
    english = alerts_table(data, WAVES[1], "en", table_id="alerts")
    assert "-3.9 percentage points" in [row[4].text for row in english.rows]
    assert not any(re.fullmatch(r"[+-]?0\.\d+", row[4].text) for row in table.rows)


def test_county_pages_keep_daggers_and_hide_a_suppressed_countys_n(tmp_path):
    import dataclasses

    models = pl.DataFrame(
        [
            dict(
                wave=WAVES[1],
                area_code=HUIMIN,
                metric="hours_nonteaching",
                estimate=12.34,
                rmse=0.5,
                method="synthetic",
            )
        ]
    )
    data = dataclasses.replace(tiny_data(), county_models=models)
    build_site(data, tmp_path / "reports", pdf=False)
    site = tmp_path / "reports"
    for set_name in (LATEST, *WAVES):
        for code in (XINCHENG, HUIMIN, KUNDULUN):
            assert (site / set_name / "county" / f"{code}.html").is_file()
            assert (site / set_name / "en" / "county" / f"{code}.html").is_file()
    huimin = (site / LATEST / "county" / f"{HUIMIN}.html").read_text(encoding="utf-8")
    assert 'href="../league-150100.html"' in huimin, "the county page links back to its league"
    from pipelines.report.county import figures_table, trend_table

    rows = {r[0].text: r for r in figures_table(data, WAVES[1], HUIMIN, "zh").rows}
    hours = rows[metric_title("hours_nonteaching", "zh")]
    assert hours[1].text == SUPPRESSED and hours[2].text == SUPPRESSED and hours[2].sort is None
    assert hours[3].text == "12.3 ±1.0" and "model" in hours[3].cls
    assert "4" not in [c.text for r in rows.values() for c in r[2:3]], "n = 4 is never shown"
    trend = {r[0].text: r for r in trend_table(data, WAVES[1], HUIMIN, "zh").rows}
    assert [c.text for c in trend[metric_title("hours_nonteaching", "zh")][1:3]] == ["12.0 [10.8, 13.2]", SUPPRESSED]
    league = (site / LATEST / "league-150100.html").read_text(encoding="utf-8")
    assert f'<a href="county/{HUIMIN}.html">回民区</a>' in league
    assert "模型估计" in huimin and "‡" in huimin


def test_teacher_survey_coverage_is_labelled_neutral_and_explained():
    pages = {p.key: p for p in build_pages(tiny_data(), WAVES[1], "zh", None)}
    loads = pages["quality"].sections[0].blocks[0]
    survey = next(r for r in loads.rows if r[1].text == "教师问卷")
    coverage = survey[loads.headers.index("覆盖学校比例")]
    assert coverage.cls == "num neutral" and coverage.title == "至少有一名教师应答的学校占名录学校的比例"
    note = str(pages["quality"].sections[0].blocks[1].html)
    assert "不是问题" in note and "低于80%触发预警" in note


def test_a_run_whose_every_file_was_rejected_lists_the_files_and_why(data_dir, run):
    landing = data_dir / "landing" / "teacher_survey"
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (landing / "empty.csv").write_text("", encoding="utf-8")
    summary = run(data_dir)
    assert summary.waves == []
    index = (summary.reports_dir / "index.html").read_text(encoding="utf-8")
    assert text("no_files_loaded", "zh") in index and "broken.xlsx" in index and "empty.csv" in index
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        reasons = [r[0] for r in conn.sql("select reason from quarantine.rejected_files order by file").fetchall()]
    assert len(reasons) == 2 and all(str(Markup.escape(r)) in index for r in reasons)
    english = (summary.reports_dir / "en" / "index.html").read_text(encoding="utf-8")
    assert text("no_files_loaded", "en") in english and "broken.xlsx" in english


def test_demo_site_prints_the_entry_page_and_each_league_page_to_pdf(demo):
    """Chromium prints latest/pdf/index_<lang>.pdf and one PDF per league page; each opens and says its headline."""
    import shutil
    import subprocess

    if not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail("chromium is not on PATH: the site has no PDFs")
        pytest.skip("chromium is not on PATH")
    reader = shutil.which("pdftotext")
    if reader is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) is needed to read the PDFs")
        pytest.skip("pdftotext is not installed")
    pdfs = demo / "reports" / LATEST / "pdf"
    leagues = pl.read_csv(demo / "reference" / "divisions.csv", infer_schema=False).filter(pl.col("level") == "league")
    expected = {f"index_{lang}.pdf" for lang in ("zh", "en")} | {
        f"league-{code}_{lang}.pdf" for code in leagues["code"] for lang in ("zh", "en")
    }
    assert {p.name for p in pdfs.glob("*.pdf")} == expected
    for pdf in sorted(pdfs.glob("*.pdf")):
        assert pdf.read_bytes()[:5] == b"%PDF-", pdf
        body = subprocess.run([reader, "-q", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        if pdf.name.startswith("index_"):
            assert ("全区减负成效" if pdf.name.endswith("zh.pdf") else "The region at a glance") in body, pdf
        else:
            code = pdf.name.split("_")[0].removeprefix("league-")
            row = leagues.filter(pl.col("code") == code).row(0, named=True)
            assert (row["name_zh"] if pdf.name.endswith("zh.pdf") else row["name_en"]) in body, pdf
    index = (demo / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'href="latest/pdf/index_zh.pdf"' in index and 'href="latest/pdf/league-150100_zh.pdf"' in index


def test_one_browser_prints_every_page_and_reports_the_one_it_could_not(tmp_path):
    """A missing page is reported and the pages after it still print, A4 from the print CSS, in one browser."""
    import shutil

    from pipelines.report.pdf import chromium, print_pdfs

    if not shutil.which("chromium"):
        pytest.skip("chromium is not on PATH")
    for name in ("a", "c"):
        (tmp_path / f"{name}.html").write_text(
            f"<!doctype html><style>@page {{ size: A4; }}</style><p>page {name}</p>", encoding="utf-8"
        )
    out = tmp_path / "pdf"
    jobs = [(tmp_path / f"{name}.html", out / f"{name}.pdf") for name in ("a", "missing", "c")]
    assert print_pdfs(str(chromium()), jobs) == [out / "missing.pdf"]
    assert sorted(p.name for p in out.iterdir()) == ["a.pdf", "c.pdf"]
    for pdf in (out / "a.pdf", out / "c.pdf"):
        body = pdf.read_bytes()
        assert body[:5] == b"%PDF-" and re.search(rb"/MediaBox \[0 0 59[45]\.\d+ 84[12]\.\d+\]", body), pdf


def test_a_browser_that_exits_at_once_fails_every_page_without_a_crash(tmp_path):
    from pipelines.report.pdf import print_pdfs

    page = tmp_path / "a.html"
    page.write_text("<p>a</p>", encoding="utf-8")
    jobs = [(page, tmp_path / "pdf" / "a.pdf"), (page, tmp_path / "pdf" / "b.pdf")]
    assert print_pdfs("/bin/true", jobs) == [pdf for _, pdf in jobs]
    assert not list((tmp_path / "pdf").glob("*.pdf"))


def test_demo_alert_texts_carry_units_never_raw_fractions(demo):
    """Every alert message and value on the site reads as a percentage, points or a count, never '-0.039'."""
    fraction = re.compile(r"(?<![\d.])[-+−]?0\.\d{2,}(?!\d*\s*(?:次|小时|hours|per school|/))")
    for lang_dir in ("", "en/"):
        html = (demo / "reports" / LATEST / f"{lang_dir}alerts.html").read_text(encoding="utf-8")
        cells = re.findall(r'<td class="(?:message|num)"[^>]*>(.*?)</td>', html)
        assert cells, lang_dir
        shown = [re.sub(r"[pq] (?:&lt;|=) [\d.]+", "p", c) for c in cells]
        assert not [c for c in shown if fraction.search(c)], [c for c in shown if fraction.search(c)][:3]


def test_without_chromium_the_site_has_no_pdf_links_and_says_so_in_one_line(tmp_path, monkeypatch):
    from pipelines.report.pdf import NO_CHROMIUM, pdf_note

    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    summary = build_site(tiny_data(), tmp_path / "reports", pdf=True)
    assert summary.note == NO_CHROMIUM == pdf_note() and "\n" not in summary.note and summary.pdfs == []
    site = tmp_path / "reports"
    assert not (site / LATEST / "pdf").exists()
    for html in (
        site / "index.html",
        site / LATEST / "league-150100.html",
        site / LATEST / "en" / "league-150200.html",
    ):
        assert ".pdf" not in html.read_text(encoding="utf-8"), html
