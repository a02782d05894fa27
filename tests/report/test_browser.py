"""Every page of a generated report site in Debian's headless Chromium, with the network outside the site cut.

The site is served from a loopback http.server; any request to another origin is aborted and recorded.
Screenshots of the latest set go to test-artifacts/screenshots/ (CI keeps that folder).
"""

from __future__ import annotations

import functools
import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.report.site import LATEST, PAGE_CHARTS
from pipelines.resources import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CJK = re.compile(r"[\u4e00-\u9fff]")

MISSING = "Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium fonts-noto-cjk"
NARROW = {"width": 390, "height": 844}


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    """Without Chromium the module skips locally and fails under CI, which must run it."""
    if not CHROMIUM.exists():
        pytest.fail(MISSING + " (CI must run the browser tests)") if os.environ.get("CI") else pytest.skip(MISSING)
    return CHROMIUM


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(demo_set):
    """The demo site served on 127.0.0.1 (an ephemeral port), for as long as the module runs."""
    root = demo_set / "reports"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser_page(site, tmp_path_factory):
    """One Chromium page; requests leaving the site are aborted and listed in page.outside."""
    from playwright.sync_api import sync_playwright

    _, base = site
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
            service_workers="block",
        )
        outside: list[str] = []

        def gate(route):
            if route.request.url.startswith(base):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", gate)
        page = context.new_page()
        page.outside = outside
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else outside.append(r.url))
        yield page
        context.close()


def _kind(path: Path) -> str:
    if "county" in path.parts:
        return "county"
    return "league" if path.stem.startswith("league-") else path.stem


def _is_county(path: Path) -> bool:
    return "county" in path.parts


def _site_pages(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.html") if "data_docs" not in p.parts)


def test_every_page_renders_its_charts_offline_without_errors(site, browser_page):
    root, base = site
    page = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = _site_pages(root)
    assert len(pages) == 2 + 4 * 2 * (19 + 103), (
        "index twice, then latest + 3 waves × 2 languages × (19 pages + 103 county pages)"
    )
    first_wave = min(p.parts[0] for p in pages if len(p.parts) > 1 and p.parts[0][:1].isdigit())
    counties = sorted({p.stem for p in pages if _is_county(p)})
    assert len(counties) == 103
    visited = [
        p
        for p in pages
        if (p.parts[0] in ("index.html", "en", LATEST) or (p.parts[0] == first_wave and _kind(p) != "league"))
        and (not _is_county(p) or (p.parts[0] == LATEST and p.stem in counties[:3]))
    ]
    drawn = 0
    for rel in visited:
        page.errors.clear()
        page.goto(base + rel.as_posix(), wait_until="load")
        expected = page.locator(".plotly-graph-div").count()
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n", arg=expected, timeout=20_000
        )
        assert page.errors == [], (rel, page.errors)
        assert page.locator(".modebar").count() == 0, f"no Plotly mode bar for the committee: {rel}"
        in_set = len(rel.parts) > 1 and rel.parts[0] != "en"
        if in_set:
            charts = PAGE_CHARTS[_kind(rel)]
            assert expected == charts or (_kind(rel) == "quality" and expected == charts - 1), rel
        else:
            assert expected == 0, rel
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == expected, rel
        titles = page.eval_on_selector_all(".js-plotly-plot .gtitle", "els => els.map(e => e.textContent)")
        assert len(titles) == expected and all(titles), (rel, titles)
        english = "en" in rel.parts
        body = page.locator("body").inner_text()
        if english:
            assert not any(CJK.search(t) for t in titles), (rel, titles)
            assert "Inner Mongolia teacher burden-reduction monitoring" in body
        else:
            assert CJK.search(body) and "内蒙古自治区中小学教师减负监测" in body, rel
            assert all(CJK.search(t) for t in titles), (rel, titles)
        notes = page.eval_on_selector_all(".js-plotly-plot .annotation-text", "els => els.map(e => e.textContent)")
        assert sum("n = " in n for n in notes) >= expected, (rel, notes)
        drawn += expected
        if rel.parts[0] in (LATEST, "en", "index.html"):
            page.screenshot(path=str(SCREENSHOTS / ("_".join(rel.with_suffix("").parts) + ".png")), full_page=True)
    assert drawn >= 80
    assert page.outside == [], f"requests left the site: {page.outside[:5]}"


def test_chart_hover_shows_the_interval(site, browser_page):
    _, base = site
    page = browser_page
    page.goto(base + f"{LATEST}/index.html", wait_until="load")
    point = page.locator("#overview-hours .scatterlayer .point").first
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2 - 3, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = page.locator("#overview-hours .hoverlayer .hovertext")
    hover.wait_for(timeout=5_000)
    label = hover.text_content()
    assert "95%置信区间" in label and "n = " in label, label


MODEL_BESIDE_DAGGER = re.compile(r"‡ ｜ 模型估计 [+-]?\d+(\.\d+)?%? ±(?P<half_width>\d+(\.\d+)?)%?")
"""A suppressed county keeps its dagger; a model-based (synthetic) figure may stand beside it."""


def test_suppressed_cells_show_a_dagger_with_its_footnote(site, browser_page):
    root, base = site
    page = browser_page
    found = 0
    for rel in sorted((root / LATEST).glob("league-*.html")):
        page.goto(base + f"{LATEST}/{rel.name}", wait_until="load")
        daggers = page.locator("td.suppressed")
        if daggers.count():
            for cell in daggers.all_inner_texts():
                shown = MODEL_BESIDE_DAGGER.fullmatch(cell)
                assert cell == "‡" or shown, cell
                assert not shown or float(shown["half_width"]) < 100, f"an implausible model MSE: {cell}"
            footer = page.locator("footer").inner_text()
            assert "‡ 已抑制" in footer
            assert "模型估计" in footer or set(daggers.all_inner_texts()) == {"‡"}
            found += 1
    assert found, "the small demo suppresses some county cells"


def test_alerts_table_filters_and_sorts(site, browser_page):
    _, base = site
    page = browser_page
    page.goto(base + f"{LATEST}/alerts.html", wait_until="load")
    rows = page.locator("#alerts tbody tr")
    total = rows.count()
    assert total > 0
    page.select_option("select[data-filter=wave]", "")
    assert page.locator("#alerts tbody tr:not([hidden])").count() == total
    rule = page.locator("select[data-filter=rule] option").nth(1).get_attribute("value")
    page.select_option("select[data-filter=rule]", rule)
    visible = page.locator("#alerts tbody tr:not([hidden])")
    assert 0 < visible.count() <= total
    assert {visible.nth(i).get_attribute("data-rule") for i in range(visible.count())} == {rule}
    assert page.locator("#alerts-count").inner_text() == f"{visible.count()} / {total}"
    page.select_option("select[data-filter=rule]", "")
    header = page.locator("#alerts thead th").nth(1)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    leagues = [rows.nth(i).get_attribute("data-league") for i in range(total)]
    assert leagues == sorted(leagues)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    page.screenshot(path=str(SCREENSHOTS / "latest_alerts_sorted.png"), full_page=True)
    assert page.outside == []


def test_every_page_fits_a_390_px_phone_with_charts_stacked(site, browser_page):
    """At 390 px nothing overflows sideways (wide tables scroll in their own box) and subplot grids stack."""
    root, base = site
    page = browser_page
    pages = _site_pages(root)
    league = sorted(p for p in pages if p.parts[0] == LATEST and p.stem.startswith("league-"))[0]
    counties = sorted(p for p in pages if p.parts[0] == LATEST and _is_county(p))[:2]
    visited = (
        [p for p in pages if p.parts[0] in ("index.html", "en") and len(p.parts) <= 2]
        + [p for p in pages if p.parts[0] == LATEST and not _is_county(p) and not p.stem.startswith("league-")]
        + [league, league.parent / "en" / league.name, *counties]
    )
    page.set_viewport_size(NARROW)
    try:
        for rel in visited:
            page.goto(base + rel.as_posix(), wait_until="load")
            expected = page.locator(".plotly-graph-div").count()
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
                arg=expected,
                timeout=20_000,
            )
            page.wait_for_timeout(300)
            width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width <= inner, f"{rel} overflows: {width} > {inner}"
            if rel.parts[0] == LATEST or rel.name == "index.html":
                page.screenshot(
                    path=str(SCREENSHOTS / ("narrow_" + "_".join(rel.with_suffix("").parts) + ".png")), full_page=True
                )
        page.goto(base + f"{LATEST}/index.html", wait_until="load")
        page.wait_for_function("document.querySelectorAll('#overview-region .main-svg').length >= 2")
        page.wait_for_timeout(300)
        panels = page.evaluate("""() => { const gd = document.getElementById('overview-region');
            return [gd._stacked, ['xaxis', 'xaxis2', 'xaxis3'].map(k => gd.layout[k].domain)]; }""")
        assert panels[0] is True and panels[1] == [[0, 1]] * 3, "the three headline panels stack under 600 px"
        box = page.evaluate("document.getElementById('overview-region').parentElement.getBoundingClientRect().height")
        assert box >= 3 * 200, "the chart's box grows with its stacked panels"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert page.outside == []
