"""The committee's report site: writes the pages, then publishes them atomically under reports/.

`build_site` writes one page set per wave plus `latest/`, each page in Chinese and under
`en/` in English, with plotly.js shipped once in `assets/`. Only aggregates are embedded.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import jinja2
import plotly
from markupsafe import Markup

from pipelines.report.blocks import Table
from pipelines.report.county import county_key
from pipelines.report.data import WAVE_KEY, ReportData, load_report_data
from pipelines.report.entry import headline, league_table
from pipelines.report.pages import TEMPLATES, Page, build_pages
from pipelines.report.pdf import NO_CHROMIUM, PDF_DIR, chromium, pdf_name, print_pdfs
from pipelines.report.quality import rejected_files_table
from pipelines.report.text import LANGS, text
from pipelines.resources import FatalPipelineError

LATEST = "latest"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PAGE_CHARTS = {
    "index": 3,
    "trends": 1,
    "breakdowns": 2,
    "inspection": 1,
    "alerts": 0,
    "quality": 2,
    "league": 2,
    "county": 0,
    "policy": 1,
}

__all__ = [
    "LATEST",
    "PAGE_CHARTS",
    "PLOTLY_JS",
    "SiteSummary",
    "build_site",
    "load_report_data",
    "publish_site",
    "site_size",
]


@dataclass
class SiteSummary:
    pages: int = 0
    charts: int = 0
    bytes: int = 0
    sets: list[str] = field(default_factory=list)
    pdfs: list[str] = field(default_factory=list)
    """The PDFs written, relative to reports/."""
    note: str = ""
    """One line for the run when something optional is missing (no chromium: no PDFs)."""


INDEX_PAGES = ("index", "trends", "breakdowns", "inspection", "alerts", "quality", "policy")
PAGE_TITLE_KEYS = {
    "index": "page_overview",
    "trends": "page_trends",
    "breakdowns": "page_breakdowns",
    "inspection": "page_inspection",
    "alerts": "page_alerts",
    "quality": "page_quality",
    "policy": "page_policy",
}
ENTRY_PDF = "index"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    env.globals["text"] = text
    return env


def page_path(set_name: str, key: str, lang: str) -> str:
    """A page's path under reports/: Chinese at <set>/<key>.html, English at <set>/en/<key>.html."""
    return f"{set_name}/{'en/' if lang == 'en' else ''}{key}.html"


def pdf_path(key: str, lang: str) -> str:
    """A printed page's path under reports/: latest/pdf/<key>_<lang>.pdf."""
    return f"{LATEST}/{PDF_DIR}/{pdf_name(key, lang)}"


def _owned_paths(out_dir: Path) -> list[Path]:
    """What a previous build wrote; Data Docs and anything else in reports/ stay."""
    if not out_dir.is_dir():
        return []
    return [
        p
        for p in out_dir.iterdir()
        if p.name in ("index.html", "en", "assets", LATEST) or (p.is_dir() and WAVE_KEY.fullmatch(p.name))
    ]


def _write_set_pages(
    env: jinja2.Environment,
    out_dir: Path,
    pages: list[Page],
    wave: str,
    lang: str,
    set_name: str,
    sets: list[tuple[str, str]],
    printed: bool,
) -> None:
    """One language of one page set; `sets` feeds the wave switcher, which keeps the page.

    `printed`: the set's printable pages link their PDF (latest/ only, when chromium printed them).
    """
    nav = [{"key": p.key, "title": p.title} for p in pages if p.depth == 0 and not p.key.startswith("league-")]
    leagues = [{"key": p.key, "title": p.title} for p in pages if p.key.startswith("league-")]
    template = env.get_template("page.html")
    table_template = env.from_string('{% from "macros.html" import table with context %}{{ table(t) }}')

    def table(t: Table) -> Markup:
        """A table rendered once for both sets that show it (the wave's and latest/)."""
        if t.html is None:
            t.html = Markup(table_template.render(t=t, lang=lang))
        return t.html

    for page in pages:
        up = "../" * page.depth
        root = up + ("../" if lang == "zh" else "../../")
        pdf = (
            up + ("" if lang == "zh" else "../") + f"{PDF_DIR}/{pdf_name(page.key, lang)}"
            if printed and page.pdf
            else None
        )
        html = template.render(
            page=page,
            lang=lang,
            root=root,
            up=up,
            wave=wave,
            set_name=set_name,
            nav=nav,
            leagues=leagues,
            table=table,
            charts=page.charts,
            home=f"{root}{'en/' if lang == 'en' else ''}index.html",
            pdf=pdf,
            other_href=up + (f"en/{page.key}.html" if lang == "zh" else f"../{page.key}.html"),
            sets=[{"name": s, "wave": w, "href": root + page_path(s, page.key, lang)} for s, w in sets],
        )
        target = out_dir / page_path(set_name, page.key, lang)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")


def _write_index(
    env: jinja2.Environment,
    data: ReportData,
    out_dir: Path,
    lang: str,
    sets: list[tuple[str, str]],
    has_docs: bool,
    printed: bool,
    listed_pages: list[str],
    added_titles: dict[str, str],
) -> None:
    """reports/index.html (or en/index.html): the latest wave's answer, then every set, league and county.

    `listed_pages`: the keys of a set's top-level pages (those PAGE_BUILDERS made, added ones included).
    """
    root = "" if lang == "zh" else "../"
    titles = {k: text(v, lang) for k, v in PAGE_TITLE_KEYS.items()}
    titles.update({k.split(":", 1)[1]: v for k, v in added_titles.items() if k.startswith(f"{lang}:")})
    listed = [
        {
            "name": s,
            "wave": w,
            "latest": s == LATEST,
            "pages": [{"title": titles.get(k, k), "href": root + page_path(s, k, lang)} for k in listed_pages],
            "leagues": [
                {"title": data.name(c, lang), "href": root + page_path(s, f"league-{c}", lang)} for c in data.leagues
            ],
        }
        for s, w in sets
    ]
    wave = data.latest_wave if sets else None
    counties = (
        [
            {
                "title": data.name(league, lang),
                "counties": [
                    {"title": data.name(c, lang), "code": c, "href": root + page_path(LATEST, county_key(c), lang)}
                    for c in data.counties(league)
                ],
            }
            for league in data.leagues
        ]
        if sets
        else []
    )
    pdfs = (
        [{"title": text("pdf_entry", lang), "href": root + pdf_path(ENTRY_PDF, lang)}]
        + [{"title": data.name(c, lang), "href": root + pdf_path(f"league-{c}", lang)} for c in data.leagues]
        if printed
        else []
    )
    html = env.get_template("index.html").render(
        lang=lang,
        root=root,
        home="index.html",
        other_href="en/index.html" if lang == "zh" else "../index.html",
        sets=listed,
        baseline=data.baseline,
        has_docs=has_docs,
        wave=wave,
        counties=counties,
        pdfs=pdfs,
        headline=headline(data, wave, lang) if wave else [],
        verdicts=league_table(data, wave, lang, lambda c: root + page_path(LATEST, f"league-{c}", lang))
        if wave
        else None,
        rejected=rejected_files_table(data, lang) if not sets and data.rejected_files.height else None,
    )
    target = out_dir / ("en/index.html" if lang == "en" else "index.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def _print_jobs(data: ReportData, out_dir: Path) -> list[tuple[Path, Path]]:
    """(page, pdf) pairs: the entry page and every league page of latest/, in both languages."""
    jobs = [
        (out_dir / ("index.html" if lang == "zh" else "en/index.html"), out_dir / pdf_path(ENTRY_PDF, lang))
        for lang in LANGS
    ]
    return jobs + [
        (out_dir / page_path(LATEST, f"league-{c}", lang), out_dir / pdf_path(f"league-{c}", lang))
        for c in data.leagues
        for lang in LANGS
    ]


def build_site(data: ReportData, out_dir: Path, pdf: bool = False) -> SiteSummary:
    """Write the site under out_dir (reports/): index, assets, latest/ and one set per wave, each in zh and en.

    latest/ holds the same pages as the newest wave's set, so a bookmark to it always shows the newest wave.
    With `pdf` and chromium on PATH, the entry page and latest/'s league pages are printed to latest/pdf/.
    """
    out_dir = Path(out_dir)
    for path in _owned_paths(out_dir):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (out_dir / "assets").mkdir(parents=True)
    shutil.copyfile(PLOTLY_JS, out_dir / "assets" / "plotly.min.js")
    for asset in ("site.css", "site.js"):
        shutil.copyfile(TEMPLATES / asset, out_dir / "assets" / asset)
    env = _environment()
    waves = data.waves
    # latest_wave is None only when there are no waves
    sets = ([(LATEST, cast(str, data.latest_wave))] if waves else []) + [(w, w) for w in reversed(waves)]
    has_docs = (out_dir / "data_docs" / "index.html").is_file()
    browser = chromium() if pdf else None
    printed = browser is not None and bool(waves)
    summary = SiteSummary(sets=[s for s, _ in sets], note="" if browser or not pdf else NO_CHROMIUM)
    listed: dict[str, list[str]] = {lang: list(INDEX_PAGES) for lang in LANGS}
    titles: dict[str, str] = {}
    for wave in waves:
        for lang in LANGS:
            docs = ("../" if lang == "zh" else "../../") + "data_docs/index.html" if has_docs else None
            pages = build_pages(data, wave, lang, docs)
            listed[lang] = [p.key for p in pages if p.depth == 0 and not p.key.startswith("league-")]
            titles.update({f"{lang}:{p.key}": p.title for p in pages if p.key not in PAGE_TITLE_KEYS})
            for set_name in [s for s, w in sets if w == wave]:
                _write_set_pages(env, out_dir, pages, wave, lang, set_name, sets, printed and set_name == LATEST)
                summary.pages += len(pages)
                summary.charts += sum(len(p.charts) for p in pages)
    for lang in LANGS:
        _write_index(env, data, out_dir, lang, sets, has_docs, printed, listed[lang], titles)
        summary.pages += 1
    if printed:
        assert browser is not None
        jobs = _print_jobs(data, out_dir)
        failed = print_pdfs(browser, jobs)
        summary.pdfs = [pdf.relative_to(out_dir).as_posix() for _, pdf in jobs if pdf not in failed]
        if failed:
            summary.note = f"{len(failed)} of {len(jobs)} PDFs could not be printed"
    summary.bytes = site_size(out_dir)
    return summary


def publish_site(
    data: ReportData, reports_dir: Path, data_docs_dir: Path | None = None, pdf: bool = False
) -> SiteSummary:
    """Build the whole site beside reports/, then swap it in: a failed build leaves the old site whole.

    Data Docs are copied in from `data_docs_dir`, and anything else a user put in reports/ is carried over.
    A storage failure (disk full, read-only) raises FatalPipelineError with one line.
    """
    reports_dir = Path(reports_dir)
    parent = reports_dir.parent
    staging = parent / f".{reports_dir.name}.building-{os.getpid()}"
    previous = parent / f".{reports_dir.name}.previous-{os.getpid()}"
    try:
        for stale in parent.glob(f".{reports_dir.name}.building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir(parents=True)
        if data_docs_dir is not None and (Path(data_docs_dir) / "index.html").is_file():
            shutil.copytree(data_docs_dir, staging / "data_docs")
        owned = set(_owned_paths(reports_dir))
        for extra in reports_dir.iterdir() if reports_dir.is_dir() else []:
            if extra not in owned and extra.name != "data_docs":
                (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, staging / extra.name)
        summary = build_site(data, staging, pdf)
        _swap(staging, reports_dir, previous)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise FatalPipelineError(
            "cannot publish the report site "
            f"({os.strerror(exc.errno) if exc.errno else type(exc).__name__}); "
            "the previous site is unchanged"
        ) from None
    shutil.rmtree(previous, ignore_errors=True)
    return summary


def _swap(staging: Path, reports_dir: Path, previous: Path) -> None:
    """Two renames on one filesystem; if the second fails the first is undone."""
    shutil.rmtree(previous, ignore_errors=True)
    had_site = reports_dir.exists()
    if had_site:
        os.rename(reports_dir, previous)
    try:
        os.rename(staging, reports_dir)
    except OSError:
        if had_site:
            os.rename(previous, reports_dir)
        raise


def site_size(out_dir: Path) -> int:
    """Bytes of everything under reports/ that this site wrote (Data Docs excluded)."""
    return sum(
        f.stat().st_size
        for p in _owned_paths(Path(out_dir))
        for f in ([p] if p.is_file() else p.rglob("*"))
        if f.is_file()
    )
