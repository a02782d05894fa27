"""Printable PDFs of the entry page and the league pages, for a committee that files paper.

Debian's Chromium prints each page headless (print CSS in site.css) from the built site, offline;
without chromium on PATH there are no PDFs and the site shows no PDF links.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PDF_DIR = "pdf"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
    "--virtual-time-budget=10000",
    "--window-size=760,1100",
)
PRINT_TIMEOUT = 120
WORKERS = 2
NO_CHROMIUM = "chromium is not on PATH: the report site has no PDFs"


def chromium() -> str | None:
    """The chromium executable on PATH, or None."""
    return shutil.which("chromium")


def pdf_note() -> str:
    """The run's one line when there will be no PDFs (chromium missing), else ''."""
    return "" if chromium() else NO_CHROMIUM


def pdf_name(key: str, lang: str) -> str:
    return f"{key}_{lang}.pdf"


def print_pdf(browser: str, page: Path, pdf: Path) -> bool:
    """Print one built page to `pdf` with a throwaway profile; True when the file was written."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jianfu-chromium-") as profile:
        try:
            subprocess.run(
                [
                    browser,
                    *CHROMIUM_ARGS,
                    f"--user-data-dir={profile}",
                    f"--print-to-pdf={pdf}",
                    page.resolve().as_uri(),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=PRINT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return pdf.is_file() and pdf.stat().st_size > 0


def print_pdfs(browser: str, jobs: list[tuple[Path, Path]]) -> list[Path]:
    """Print (page, pdf) pairs, two at a time; returns the PDFs that could not be written."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(lambda job: print_pdf(browser, *job), jobs))
    return [pdf for (_, pdf), ok in zip(jobs, done) if not ok]
