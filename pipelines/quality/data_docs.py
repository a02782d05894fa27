"""The GX Data Docs site: every suite and the latest validation of each scope, readable offline.

GX's pages load Bootstrap, jQuery, Vega and Font Awesome from CDNs; the site drops those and
replaces GX's index with a static page that also says which staged checks are exact and which sampled.
"""

from __future__ import annotations

import html
import re
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pipelines.catalogue.rules import WAVE_PATTERN
from pipelines.quality.expectations import DATA_DOCS_SITE, STAGED_SAMPLE_ROWS, gx_context

GX_ASSET_HOST = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"


OFFLINE_STYLE = """<style>
body { font-family: sans-serif; margin: 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; }
.modal, .d-none, .navbar-toggler, .ge-walkthrough-modal { display: none; }
.row { display: flex; flex-wrap: wrap; } .col-md-2 { flex: 0 0 16%; } .col-md-10 { flex: 1 1 70%; }
.sticky { position: static !important; }
.text-success { color: #1a7f37; } .text-danger { color: #b42318; }
.fa-check-circle::before { content: "✔"; } .fa-times::before { content: "✘"; }
.fa-exclamation-triangle::before { content: "⚠"; } .fa-question-circle::before { content: "?"; }
.fa-comment::before { content: "“"; }
</style>"""
_REMOTE_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.IGNORECASE)
_REMOTE_LINK = re.compile(r'<link[^>]*\shref="https?://[^"]*"[^>]*>\s*', re.IGNORECASE)
_GX_IMAGE = re.compile(re.escape(GX_ASSET_HOST) + r"([\w.\-]+)(\?[\w.\-=&]*)?")
_REMOTE_IMAGE = re.compile(r'<img[^>]*\ssrc="https?://[^"]*"[^>]*>', re.IGNORECASE)


def make_offline(site_dir: Path) -> int:
    """Drop what GX's pages load from CDNs (Bootstrap, jQuery, Vega, Font Awesome: GX ships no
    local copy) and point its logo at the copy in the site's static folder; returns pages fixed."""
    images = site_dir / "static" / "images"
    pages = 0
    for page in site_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        depth = len(page.relative_to(site_dir).parts) - 1

        def local_image(match: re.Match, depth: int = depth) -> str:
            name = match.group(1)
            return "../" * depth + f"static/images/{name}" if (images / name).is_file() else match.group(0)

        fixed = _REMOTE_SCRIPT.sub("", text)
        fixed = _REMOTE_LINK.sub("", fixed)
        fixed = _GX_IMAGE.sub(local_image, fixed)
        fixed = _REMOTE_IMAGE.sub("", fixed)
        fixed = fixed.replace("</head>", OFFLINE_STYLE + "</head>", 1)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
            pages += 1
    return pages


@dataclass(frozen=True)
class StoredResult:
    suite: str
    run_name: str
    run_time: str
    batch: str
    success: bool
    evaluated: int
    failed: int
    page: str
    rows: int | None = None
    sampled: int | None = None


def stored_results(context) -> list[StoredResult]:
    """The validation results in the context's store, with the Data Docs page each one gets."""
    store = context.validation_results_store
    found = []
    for key in store.list_keys():
        result = store.get(key)
        parts = [
            *key.expectation_suite_identifier.to_tuple(),
            key.run_id.to_tuple()[0],
            key.run_id.to_tuple()[1],
            key.batch_identifier,
        ]
        found.append(
            StoredResult(
                suite=key.expectation_suite_identifier.name,
                run_name=key.run_id.run_name or "",
                run_time=key.run_id.run_time.isoformat(timespec="seconds"),
                batch=key.batch_identifier,
                success=bool(result.success),
                evaluated=result.statistics.get("evaluated_expectations", 0),
                failed=result.statistics.get("unsuccessful_expectations", 0),
                page="validations/" + "/".join(quote(str(p)) for p in parts) + ".html",
                rows=result.meta.get("rows_in_scope"),
                sampled=result.meta.get("rows_sampled"),
            )
        )
    return sorted(found, key=lambda r: (r.suite, r.run_name, r.batch))


def _rows_cell(result: StoredResult) -> str:
    """Rows in scope, and how many GX saw when it ran on a sample."""
    if result.rows is None:
        return ""
    return f"{result.rows}" if result.sampled is None else f"{result.rows}（抽样 sampled {result.sampled}）"


def _index_page(suites: list[str], results: list[StoredResult]) -> str:
    suite_rows = "".join(f'<li><a href="expectations/{quote(s)}.html">{html.escape(s)}</a></li>' for s in suites)
    result_rows = "".join(
        f"<tr><td>{'通过 passed' if r.success else '<strong>未通过 failed</strong>'}</td>"
        f"<td>{html.escape(r.suite)}</td><td>{html.escape(r.run_name)}</td><td>{html.escape(r.batch)}</td>"
        f"<td>{r.evaluated}</td><td>{r.failed}</td><td>{_rows_cell(r)}</td><td>{html.escape(r.run_time)}</td>"
        f'<td><a href="{r.page}">详情 details</a></td></tr>'
        for r in results
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>数据质量校验 Data Docs</title>{OFFLINE_STYLE}</head>
<body>
<h1>数据质量校验（Great Expectations Data Docs）</h1>
<p>每个校验套件由规则表与指标表自动生成；下表为每个套件在每一轮次（分批）最近一次的校验结果。
Suites are generated from the rule table and the marts' invariants; below, the latest validation of
every suite, wave and batch.</p>
<h2>校验套件 Expectation suites</h2><ul>{suite_rows}</ul>
<h2>校验结果 Validation results</h2>
<table><thead><tr><th>结果 Status</th><th>套件 Suite</th><th>范围 Scope</th><th>批次 Batch</th>
<th>期望数 Evaluated</th><th>未通过 Failed</th><th>行数 Rows</th><th>时间 Run time (UTC)</th><th></th></tr></thead>
<tbody>{result_rows or '<tr><td colspan="9">尚无校验结果 no validation yet</td></tr>'}</tbody></table>
<h2>精确与抽样 Exact and sampled</h2>
<p>数据暂存表（staged）套件：暂存环节执行的每条规则（非空、取值范围、取值集合、格式、唯一性）由 DuckDB
对范围内全部行精确计数，任一违规即阻断；列类型由 GX 在分层抽样（每轮次至多 {STAGED_SAMPLE_ROWS} 行）上校验。
汇总表套件（area_metrics、data_quality）在全部行上运行。
Staged suites: every rule the staging enforces (not null, range, set, pattern, uniqueness) is counted
exactly by DuckDB over every row of the scope, and any violation blocks; column types are checked by GX
on a stratified sample of at most {STAGED_SAMPLE_ROWS} rows per scope. Each expectation's note says which.
The aggregate suites (area_metrics, data_quality) run on every row.</p>
</body></html>
"""


def prune_results(results_dir: Path, waves: Iterable[str]) -> list[str]:
    """Drop stored results of waves that are gone from the warehouse; returns what was dropped."""
    keep = set(waves)
    dropped = []
    for scope in sorted(results_dir.glob("*/*")):
        if scope.is_dir() and re.fullmatch(WAVE_PATTERN, scope.name) and scope.name not in keep:
            shutil.rmtree(scope)
            dropped.append(f"{scope.parent.name}/{scope.name}")
    return dropped


def build_data_docs(results_dir: Path, site_dir: Path, suites: list) -> list[StoredResult]:
    """Rebuild the static site in `site_dir` from the suites and the stored results, readable offline.

    GX's own index draws its tables with Bootstrap Table from a CDN, so GX does not render one
    (it read every result back for it) and `index.html` is a static page of the same suites and results.
    """
    shutil.rmtree(site_dir, ignore_errors=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    context = gx_context(results_dir, site_dir)
    for suite in suites:
        context.suites.add(suite)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context.build_data_docs(site_names=[DATA_DOCS_SITE], build_index=False)
    results = stored_results(context)
    make_offline(site_dir)
    (site_dir / "index.html").write_text(_index_page([s.name for s in suites], results), encoding="utf-8")
    return results
