"""Landing files in every format the contract accepts, written whole or a chunk at a time.

CSV keeps the text as is and is appended chunk by chunk; XLSX and Parquet get native types
where every value of a column parses. A Parquet file written in several chunks goes through
part files and one streaming pass, so no wave is ever held in memory whole.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
from openpyxl import Workbook

from pipelines.synthetic.spec import (
    CSV_ENCODINGS,
    FIXED_XLSX_TIME,
    FIXED_ZIP_TIME,
    INTEGER_COLUMNS,
    NUMBER_COLUMNS,
    TEACHER_SURVEY,
    TIMESTAMP_COLUMNS,
    TIMESTAMP_FORMAT,
    XLSX_MAX_ROWS,
    Landing,
    Wave,
)


def landing_format(fmt: str, rows: int) -> str:
    """The rotation's format, except that a file too large for a workbook is written as UTF-8 CSV."""
    return "csv_utf8" if fmt == "xlsx" and rows > XLSX_MAX_ROWS else fmt


def _attempts(name: str) -> list[pl.Expr]:
    """Native readings of a text column, most specific first."""
    column = pl.col(name)
    if name in TIMESTAMP_COLUMNS:
        return [column.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False)]
    if name in INTEGER_COLUMNS:
        return [column.cast(pl.Int64, strict=False), column.cast(pl.Float64, strict=False)]
    if name in NUMBER_COLUMNS:
        return [column.cast(pl.Float64, strict=False)]
    return []


def _typed(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Each column in its native type when every value parses as it, else the text unchanged."""
    checks = [
        (attempt.null_count() == pl.col(name).null_count()).alias(f"{name}#{i}")
        for name in frame.collect_schema().names()
        for i, attempt in enumerate(_attempts(name))
    ]
    passed = frame.select(checks).collect(engine="streaming").row(0, named=True) if checks else {}
    chosen = []
    for name in frame.collect_schema().names():
        fits = [attempt for i, attempt in enumerate(_attempts(name)) if passed[f"{name}#{i}"]]
        chosen.append((fits[0] if fits else pl.col(name)).alias(name))
    return frame.select(chosen)


def _file_name(source: str, wave: Wave, fmt: str) -> str:
    """Named by wave only: the loader must sniff encodings, as with real uploads."""
    return f"{source}_{wave.label}.{fmt if fmt in ('xlsx', 'parquet') else 'csv'}"


def _cells(series: pl.Series) -> list:
    """Spreadsheet cells: numbers as numbers, timestamps as dates, anything else as text."""
    parsed = [series.to_list()]
    if series.name in TIMESTAMP_COLUMNS:
        parsed.insert(0, series.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False).to_list())
    elif series.name in INTEGER_COLUMNS | NUMBER_COLUMNS:
        parsed.insert(0, series.cast(pl.Float64, strict=False).to_list())
        if series.name in INTEGER_COLUMNS:
            parsed.insert(0, series.cast(pl.Int64, strict=False).to_list())
    return [next((v for v in candidates if v is not None), None) for candidates in zip(*parsed)]


def _normalised_zip(data: bytes) -> bytes:
    """Rewrite a workbook with fixed timestamps so equal content gives equal bytes."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", FIXED_XLSX_TIME, content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            out.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED)
    return target.getvalue()


def xlsx_bytes(frame: pl.DataFrame, sheet: str) -> bytes:
    """The frame as the first sheet of a workbook, byte-stable."""
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(frame.columns)
    for row in zip(*(_cells(frame[name]) for name in frame.columns)):
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _normalised_zip(buffer.getvalue())


def _write_landing(landing: Landing, folder: Path) -> None:
    """A whole landing file at once (school reports, 问卷星 exports, the late file)."""
    frame, fmt = landing.frame, landing.fmt
    if fmt.startswith("wjx-"):
        from pipelines.platforms.wjx_style import wjx_frame

        style, fmt = fmt[4:].split(":")
        frame = wjx_frame(frame, landing.name, style)
    writer = LandingFile(folder, landing.source, landing.name, fmt)
    writer.write(frame)
    writer.close()


class LandingFile:
    """One landing file written a chunk at a time; every chunk has the same columns in the same order."""

    def __init__(self, folder: Path, source: str, name: str, fmt: str):
        self.path, self.source, self.fmt = folder / name, source, fmt
        self.rows = 0
        self.pending: list[pl.DataFrame] = []
        self.parts: list[Path] = []
        self.handle: io.BufferedWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        if self.fmt in CSV_ENCODINGS:
            encoding = CSV_ENCODINGS[self.fmt] if self.rows == 0 else CSV_ENCODINGS[self.fmt].removesuffix("-sig")
            if self.handle is None:
                self.handle = self.path.open("wb")
            self.handle.write(frame.write_csv(include_header=self.rows == 0).encode(encoding))
        elif self.fmt == "xlsx" or not (self.pending or self.parts):
            self.pending.append(frame)
        else:
            for chunk in [*self.pending, frame]:
                part = self.path.with_name(f".{self.path.name}.part{len(self.parts):05d}")
                chunk.write_parquet(part)
                self.parts.append(part)
            self.pending = []
        self.rows += frame.height

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        elif self.fmt == "xlsx":
            self.path.write_bytes(xlsx_bytes(pl.concat(self.pending), self.source))
        elif self.pending:
            _typed(self.pending[0].lazy()).collect().write_parquet(self.path)
        elif self.parts:
            _typed(pl.scan_parquet(self.parts)).sink_parquet(self.path)
            for part in self.parts:
                part.unlink()


def _write_bad_files(rng: np.random.Generator, folder: Path, sample: pl.DataFrame) -> None:
    """Files a loader must refuse with a reason instead of crashing the run."""
    (folder / "broken_empty.csv").write_bytes(b"")
    (folder / "broken_header.csv").write_bytes(
        "姓名,联系电话,备注\n张伟,13912345678,无\n李娜,15887654321,迎检材料太多\n".encode()
    )
    workbook = xlsx_bytes(sample, TEACHER_SURVEY)
    (folder / "broken_truncated.xlsx").write_bytes(workbook[: len(workbook) // 2])
    (folder / "broken_junk.parquet").write_bytes(b"PAR1" + rng.bytes(4096))
