"""Where the shipped files (sql/, data/reference/, dagster.yaml) live: the repository in a checkout,
the package's own copy (`pipelines/_project/`, mapped there by pyproject.toml) when installed."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
"""The checkout in a source tree; site-packages when installed (pipelines/ and assets/ sit in both)."""

INSTALLED_PROJECT_DIR = PACKAGE_DIR / "_project"
IN_CHECKOUT = (REPO_ROOT / "sql" / "ddl").is_dir() and (REPO_ROOT / "pyproject.toml").is_file()
PROJECT_DIR = REPO_ROOT if IN_CHECKOUT else INSTALLED_PROJECT_DIR
"""Holds sql/, data/reference/ and dagster.yaml."""

SQL_DIR = PROJECT_DIR / "sql"
SHIPPED_REFERENCE_DIR = PROJECT_DIR / "data" / "reference"


def default_data_dir() -> Path:
    """The repository's `data/` in a checkout; `data/` under the working directory when installed."""
    return REPO_ROOT / "data" if IN_CHECKOUT else Path.cwd() / "data"
