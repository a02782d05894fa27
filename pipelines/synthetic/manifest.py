"""The manifest: row counts per source and wave, every planted defect and file — the answer key for tests.

Counts are tallied as chunks are written, so the manifest never needs the rows themselves.
"""

from __future__ import annotations

import polars as pl

from pipelines.synthetic.spec import BAD_FILES, PLANTED, SOURCES


class Tally:
    """Rows per (source, wave), rows without a valid wave, dirty rows and file names, in writing order."""

    def __init__(self, labels: list[str]):
        self.labels = labels
        self.counts = {source: {label: {"rows": 0, "dirty": 0} for label in labels} for source in SOURCES}
        self.without_wave = dict.fromkeys(SOURCES, 0)
        self.dirty_rows: list[dict] = []
        self.files: dict[str, list[str]] = {source: [] for source in SOURCES}

    def add(self, source: str, name: str, waves: pl.Series, dirty: list[tuple[int, str | None, str]]) -> None:
        """One written chunk of a file: its `wave` column and its dirty rows (file row number, wave, reason)."""
        if name not in self.files[source]:
            self.files[source].append(name)
        per_wave = dict(waves.value_counts().iter_rows())
        for label in self.labels:
            self.counts[source][label]["rows"] += int(per_wave.get(label, 0))
        self.without_wave[source] += int((~waves.is_in(self.labels)).fill_null(True).sum())
        for row, wave, reason in dirty:
            self.dirty_rows.append({"source": source, "file": name, "row_number": row, "wave": wave, "reason": reason})
            if wave is not None:
                self.counts[source][wave]["dirty"] += 1

    def manifest(self, seed: int, teachers: int) -> dict:
        return {
            "seed": seed,
            "teachers": teachers,
            "waves": self.labels,
            "planted": PLANTED,
            "counts": self.counts,
            "rows_without_wave": self.without_wave,
            "dirty_rows": sorted(self.dirty_rows, key=lambda r: (r["source"], r["file"], r["row_number"])),
            "bad_files": list(BAD_FILES),
            "files": self.files,
        }
