"""The report site: page builders on hand-made frames, and the site a small generated run publishes."""

from __future__ import annotations

import csv
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.synthetic.generate import generate
from pipelines.landing.scan import decode_text
from pipelines.catalogue.metrics import METRIC_BY_NAME
from pipelines.report.site import (LATEST, PLOTLY_JS, REPORT_METRICS, SUPPRESSED, ReportData, alerts_table,
                                   build_pages, build_site, county_table, format_cell, item_heatmap_figure,
                                   load_report_data, site_size, trend_figure)
from pipelines.report.text import text
from pipelines.resources import SHIPPED_REFERENCE_DIR
from pipelines.runner import run_pipeline

WAVES = ["2024-05", "2024-11"]
REGION, HOHHOT, BAOTOU = "150000", "150100", "150200"
XINCHENG, HUIMIN, KUNDULUN = "150102", "150103", "150203"
CJK = re.compile(r"[\u4e00-\u9fff]")
HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
SIZE_LIMIT = 20 * 2**20


def _divisions() -> pl.DataFrame:
    return pl.DataFrame({
        "code": [REGION, HOHHOT, XINCHENG, HUIMIN, BAOTOU, KUNDULUN],
        "name_zh": ["内蒙古自治区", "呼和浩特市", "新城区", "回民区", "包头市", "昆都仑区"],
        "name_en": ["Inner Mongolia", "Hohhot", "Xincheng District", "Huimin District", "Baotou", "Kundulun District"],
        "level": ["region", "league", "county", "county", "league", "county"],
        "parent_code": [None, REGION, HOHHOT, HOHHOT, REGION, BAOTOU]})


def _items() -> pl.DataFrame:
    return pl.read_csv(SHIPPED_REFERENCE_DIR / "burden_items.csv").select(
        "item_no", "category_no", "text_zh", "text_en", "red_line")


def _cell(wave, area, metric, estimate, n=120, suppressed=False) -> dict:
    level = {REGION: "region", HOHHOT: "league", BAOTOU: "league"}.get(area, "county")
    if suppressed:
        return dict(wave=wave, area_level=level, area_code=area, metric=metric, estimate=None, ci_low=None,
                    ci_high=None, n=n, suppressed=True, reliability=None)
    half = 0.1 * abs(estimate) + 0.01
    return dict(wave=wave, area_level=level, area_code=area, metric=metric, estimate=estimate,
                ci_low=estimate - half, ci_high=estimate + half, n=n, suppressed=False, reliability="ok")


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
                rows.append(_cell(wave, area, metric, value, n=4 if small else 120,
                                  suppressed=(wave, area, metric) in suppressed or small))
    return pl.DataFrame(rows)


def tiny_data(suppressed: set[tuple[str, str, str]] = frozenset()) -> ReportData:
    """Two leagues, three counties, two waves; Huimin District's second wave is suppressed (n = 4)."""
    inspection = pl.DataFrame([
        dict(area_level="league" if a != REGION else "region", area_code=a, wave=w, baseline_wave=WAVES[0],
             inspections_per_school=per, baseline_per_school=8.0, reduction_pct=1 - per / 8.0,
             target_met=1 - per / 8.0 >= 0.5, n_schools=40, baseline_n_schools=41)
        for a in (REGION, HOHHOT, BAOTOU) for w, per in zip(WAVES, (8.0, 3.5 if a != BAOTOU else 6.0))])
    alerts = pl.DataFrame([
        dict(wave=WAVES[1], area_level="league", area_code=BAOTOU, rule="red_line_item", severity="high",
             metric="item_15", value=0.25, threshold=0.05, message="包头市：清单第15条所列情形发生比例为25.0%",
             message_en="Baotou: list item 15 at 25.0%"),
        dict(wave=WAVES[1], area_level="league", area_code=BAOTOU, rule="inspection_target_missed",
             severity="medium", metric="school_inspections_per_school", value=0.25, threshold=0.5,
             message="包头市：未达到减少50%以上的目标", message_en="Baotou: inspection target missed"),
        dict(wave=WAVES[0], area_level="league", area_code=HOHHOT, rule="low_completeness", severity="medium",
             metric=None, value=0.7, threshold=0.8, message="呼和浩特市：填报率70%", message_en="Hohhot: 70% reported"),
    ])
    loads = pl.DataFrame([
        dict(wave=w, source=s, rows_received=100, rows_accepted=97, rows_rejected=3, schools_expected=80,
             schools_reporting=78, completeness=78 / 80) for w in WAVES for s in ("teacher_survey", "school_report")]
        + [dict(wave=None, source="teacher_survey", rows_received=2, rows_accepted=0, rows_rejected=2,
                schools_expected=None, schools_reporting=None, completeness=None)])
    completeness = pl.DataFrame([
        dict(wave=w, area_level="league", area_code=a, schools_expected=40, schools_reporting=39 if a == HOHHOT else 30,
             completeness=(39 if a == HOHHOT else 30) / 40, schools_on_time=30, on_time_share=0.75)
        for w in WAVES for a in (HOHHOT, BAOTOU)])
    rejected = pl.DataFrame([
        dict(source="teacher_survey", wave=WAVES[1], kind="out_of_range", column_name="hours_cat1", rows_rejected=2),
        dict(source="school_report", wave=WAVES[1], kind="superseded", column_name=None, rows_rejected=1),
        dict(source="teacher_survey", wave=None, kind="malformed", column_name="wave", rows_rejected=2)])
    return ReportData(
        divisions=_divisions(), items=_items(), metrics=_metrics(set(suppressed)), inspection=inspection,
        trends=pl.DataFrame(schema={"area_level": pl.String, "area_code": pl.String, "metric": pl.String,
                                    "direction": pl.String}),
        alerts=alerts, loads=loads, completeness=completeness, rejected=rejected,
        rejected_files=pl.DataFrame({"source": ["teacher_survey"], "file": ["broken.xlsx"],
                                     "reason": ["not a readable XLSX workbook"]}))


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

    models = pl.DataFrame([
        dict(wave=WAVES[1], area_code=HUIMIN, metric="hours_nonteaching", estimate=12.34, rmse=0.5, method="synthetic"),
        dict(wave=WAVES[1], area_code=XINCHENG, metric="felt_net", estimate=0.2, rmse=0.05, method="eblup")])
    data = dataclasses.replace(tiny_data(), county_models=models)
    table = county_table(data, WAVES[1], HOHHOT, "zh")
    huimin = next(row for row in table.rows if row[0].text == "回民区")
    assert huimin[1].text == f"{SUPPRESSED} ｜ 模型估计 12.3 ±1.0" and "model" in huimin[1].cls
    xincheng = next(row for row in table.rows if row[0].text == "新城区")
    assert xincheng[1].text == "11.0 [9.9, 12.1]", "a county without a model row shows its direct figure only"
    assert xincheng[2].text.startswith(format_cell("felt_net", data.cell(WAVES[1], XINCHENG, "felt_net")))
    assert xincheng[2].text.endswith("模型估计 +20.0% ±9.8%")
    english = county_table(data, WAVES[1], HOHHOT, "en")
    assert "model-based 12.3" in next(r for r in english.rows if r[0].text == "Huimin District")[1].text


def test_a_published_share_shows_percent_with_its_interval_and_caution_mark():
    cell = _cell(WAVES[0], REGION, "felt_net", 0.125) | {"reliability": "caution"}
    assert format_cell("felt_net", cell) == "+12.5% [+10.2%, +14.8%]*"
    assert format_cell("felt_net", None) == "—"


def test_heatmap_marks_the_11_red_line_items_and_boxes_cells_over_the_threshold():
    data = tiny_data()
    fig = item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "zh")
    labels = list(fig.data[0].y)
    tagged = [i for i, y in enumerate(labels, start=1) if "【红线】" in y]
    assert len(tagged) == 11 == data.items["red_line"].sum()
    assert tagged == data.items.filter(pl.col("red_line"))["item_no"].to_list()
    boxes = [(s.x0 + 0.5, s.y0 + 0.5) for s in fig.layout.shapes]
    assert boxes == [(2, 14)], "Baotou's item 15 at 25%; item 6 at 20% is not a red-line item"
    english = item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "en")
    assert sum("[red line]" in y for y in english.data[0].y) == 11


def test_heatmap_shows_a_suppressed_cell_as_a_dagger():
    data = tiny_data(suppressed={(WAVES[1], HOHHOT, "item_03")})
    fig = item_heatmap_figure(data, WAVES[1], [REGION, HOHHOT, BAOTOU], "zh")
    assert fig.data[0].z[2][1] is None and fig.data[0].text[2][1] == SUPPRESSED
    overlay = fig.data[1]
    assert list(overlay.text) == [SUPPRESSED] and list(overlay.x) == ["呼和浩特市"]


def test_trend_marks_a_suppressed_wave_with_a_dagger_and_draws_intervals():
    data = tiny_data()
    fig = trend_figure(data, WAVES[1], [HUIMIN], "zh", "t", show_direction=False, per_row=1)
    daggers = [a for a in fig.layout.annotations if a.text == SUPPRESSED]
    assert len(daggers) == 2 and {a.x for a in daggers} == {WAVES[1]}
    estimates = [t for t in fig.data if t.mode == "lines+markers"]
    assert [list(t.y) for t in estimates] == [[12.0, None], [-0.1, None]]
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(bands) == 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_has_title_axis_titles_source_line_and_interval_hover(lang):
    data = tiny_data()
    pages = build_pages(data, WAVES[1], lang, None)
    charts = [c for p in pages for c in p.charts]
    assert len(charts) == 9 + 2 * len(data.leagues)
    for chart in charts:
        layout = chart.figure.layout
        assert layout.title.text, chart.chart_id
        sources = [a.text for a in layout.annotations if a.name == "source"]
        assert len(sources) == 1 and WAVES[1] in sources[0] and "n = " in sources[0], chart.chart_id
        axes = chart.figure.to_dict()["layout"]
        assert any(v.get("title", {}).get("text") for k, v in axes.items() if k.startswith("xaxis")), chart.chart_id
        assert any(v.get("title", {}).get("text") for k, v in axes.items() if k.startswith("yaxis")), chart.chart_id
        for trace in chart.figure.data:
            if trace.hoverinfo == "skip" or trace.hovertemplate is None:
                continue
            assert text("interval", lang) in trace.hovertemplate or text("hover_census", lang) in \
                trace.hovertemplate, (chart.chart_id, trace.hovertemplate)


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
    pages_per_set = 7 + len(data.leagues)
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
    assert not CJK.search(re.sub(r"<script.*?</script>", "", en, flags=re.S).replace("中文", "")), \
        "the English page's own text is English (the language switch aside)"
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


def build_demo(base: Path) -> Path:
    """A small generated data set through the whole pipeline, once per test session (tmp base dir)."""
    data_dir = base / "report-demo"
    done = data_dir / ".built"
    if not done.exists():
        generate(data_dir, teachers=800, waves=3, seed=7)
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(), echo=lambda _: None)
        done.touch()
    return data_dir


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
    assert total < SIZE_LIMIT, f"site is {total / 2**20:.1f} MB"


def test_demo_site_embeds_no_identifier_and_no_row_level_data(demo):
    site = demo / "reports"
    landing = pl.concat([pl.read_csv(decode_text(f.read_bytes()).encode("utf-8"), infer_schema=False,
                                     columns=["response_id", "teacher_id"])
                         for f in (demo / "landing" / "teacher_survey").glob("teacher_survey_*.csv")])
    assert landing.height > 500
    schools = pl.read_csv(demo / "reference" / "schools.csv", infer_schema=False)
    identifiers = (set(landing["teacher_id"].drop_nulls()) | set(landing["response_id"].drop_nulls())
                   | set(schools["school_code"]))
    key = os.environ.get("JIANFU_ID_KEY") or (demo / "id_key").read_text().strip()
    assert (site / "assets" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes(), "plotly.js as shipped"
    checked = 0
    for f in site.rglob("*"):
        if not f.is_file() or "data_docs" in f.parts or f.suffix not in (".html", ".css", ".js") \
                or f.name == "plotly.min.js":
            continue
        body = f.read_text(encoding="utf-8", errors="replace")
        assert not HEX64.search(body), f"a 64-hex string (pseudonym?) in {f}"
        assert "raw_json" not in body and "teacher_pseudonym" not in body and key not in body
        found = set(re.findall(r"[A-Za-z0-9]+", body)) & identifiers
        assert not found, f"identifiers {sorted(found)[:5]} in {f}"
        names = [n for n in schools["school_name"] if n in body]
        assert not names, f"school names {names[:5]} in {f}"
        checked += 1
    assert checked > 50


def test_a_run_without_landing_files_publishes_an_index_that_says_so(data_dir, run):
    summary = run(data_dir)
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
    labels = item_heatmap_figure(data, data.latest_wave, [data.region], "zh").data[0].y
    assert any("本学期是否被要求参加与教学" in label for label in labels)
