"""Survey-platform exports (问卷星, 腾讯问卷) and mapped questionnaires onto contract columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def convert_export(raw: pl.DataFrame, file_name: str, source: str, mappings_dir: Path | None) -> pl.DataFrame | None:
    """Contract columns from a recognised export; None for a contract-format table."""
    return None
