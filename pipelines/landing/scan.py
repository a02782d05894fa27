"""Reading landing files into all-text Polars frames of contract columns only.

Every value stays text so the rule table, not a reader's type guess, decides what is
malformed. GBK/GB18030 are transcoded in Python because DuckDB's encodings extension cannot
be downloaded offline; contract-format CSVs are streamed (pipelines/landing/stream.py). Columns the contract does not list never leave this module, and
no error raised here quotes a cell or a line of the file: reasons name rows and columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import math
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.compute as pc

from pipelines.catalogue.rules import (
    NON_METRIC_OPTIONAL_COLUMNS,
    UNREADABLE_CELL,
    bounded,
    contract_columns,
    required_columns,
    rules_for,
)
from pipelines.landing.stream import CsvError, CsvSource, LandingStream

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".parquet")
ROW_COLUMN, ROW_ERROR_COLUMN = "__row", "__row_error"
MALFORMED_ROW = "malformed_row"
CSV_CHUNK_ROWS = 50_000
CSV_FIELD_LIMIT = 64 * 2**20


class LandingFileError(Exception):
    """A file that cannot be read as a table of contract columns; the message is one short line."""

    def __init__(self, reason: str):
        super().__init__(bounded(reason))


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SkippedEntry:
    """Something under landing/ that is not read: a link out of landing/, a dangling link."""

    source: str
    name: str
    reason: str


_DIGESTS: dict[tuple, str] = {}
"""Content hashes by file identity and (modification, change) times: an ingest scans a folder twice
(the asset's unchanged-check, then the sync) and reads each file for its hash once. Any write,
rename over or utime changes the change time, so a changed file is hashed again."""
DIGEST_CACHE_SIZE = 4096


def _sha256(path: Path) -> str:
    info = path.stat()
    key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    if len(_DIGESTS) >= DIGEST_CACHE_SIZE:
        _DIGESTS.clear()
    _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def scan_landing(landing_dir: Path, source: str) -> tuple[list[LandingFile], list[SkippedEntry]]:
    """Regular files under the source's folder, sorted by relative name, and the links not followed.

    A symlink is followed only when it resolves to a regular file inside landing/; directory
    links are never descended, so nothing outside landing/ is ever read.
    """
    folder = landing_dir / source
    if not folder.is_dir():
        return [], []
    boundary = landing_dir.resolve()
    files, skipped = [], []
    for top, dirs, names in os.walk(folder, followlinks=False):
        top_path = Path(top)
        for name in sorted(dirs):
            if (top_path / name).is_symlink():
                skipped.append(
                    SkippedEntry(
                        source,
                        (top_path / name).relative_to(folder).as_posix(),
                        "symbolic link to a folder: not followed",
                    )
                )
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (top_path / d).is_symlink())
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = top_path / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.exists():
                    skipped.append(SkippedEntry(source, relative, "dangling symbolic link: not read"))
                    continue
                if not target.is_relative_to(boundary) or not target.is_file():
                    skipped.append(
                        SkippedEntry(source, relative, "symbolic link pointing outside landing/: not followed")
                    )
                    continue
            if not path.is_file():
                skipped.append(SkippedEntry(source, relative, "not a regular file (device, pipe or socket): not read"))
                continue
            files.append(LandingFile(source, path, relative, _sha256(path), path.stat().st_size))
    return sorted(files, key=lambda f: f.name), sorted(skipped, key=lambda s: s.name)


def list_landing_files(landing_dir: Path, source: str) -> list[LandingFile]:
    return scan_landing(landing_dir, source)[0]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, the superset of GBK; UTF-16 by its BOM."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LandingFileError(
                f"starts with a UTF-8 byte-order mark but is not UTF-8 (byte {exc.start + 3})"
            ) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LandingFileError(
                f"starts with a UTF-16 byte-order mark but is not UTF-16 (byte {exc.start})"
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise LandingFileError(f"not UTF-8, GBK or GB18030 text (byte {exc.start})") from None


def _text_of(value) -> str | None:
    """One cell as contract text: integral floats lose their '.0', datetimes become ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}__{seen[name]}")
    return out


def _raw_frame(
    header: list[str], rows: Sequence[Sequence[str | None]], numbers: list[int], errors: list[str | None]
) -> pl.DataFrame:
    """The table as read: text columns named by the header, plus its row numbers and row errors."""
    names = _dedupe([h if h else f"column_{i + 1}" for i, h in enumerate(header)])
    frame = (
        pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")
        if rows
        else pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    )
    return frame.with_columns(
        pl.Series(ROW_COLUMN, numbers, dtype=pl.Int64), pl.Series(ROW_ERROR_COLUMN, errors, dtype=pl.String)
    )


@dataclass
class RawTable:
    """One table of a landing file: a CSV, a Parquet file, or one sheet of a workbook."""

    name: str
    frame: pl.DataFrame
    blank_rows: int = 0


def _csv_error(exc: csv.Error, row: int) -> LandingFileError:
    """Row 0 is the header; the parser's own message is not used, as it quotes the text."""
    kind = "a NUL byte (binary content)" if "NUL" in str(exc) else "an unterminated or misplaced quote"
    where = "the header" if row == 0 else f"data row {row}"
    return LandingFileError(f"CSV cannot be parsed at {where}: {kind}")


def _read_csv(data: bytes) -> RawTable:
    """Rows whose field count differs from the header's become `malformed_row` rows, values dropped."""
    text = decode_text(data)
    if not text.strip():
        raise LandingFileError("empty file")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise _csv_error(exc, 0) from None
    width = len(header)
    rows: list[Sequence[str | None]] = []
    errors: list[str | None] = []
    chunks, numbers, blank, number = [], [], 0, 0
    try:
        for record in reader:
            number += 1
            if not any(field.strip() for field in record):
                blank += 1
                continue
            if len(record) != width:
                rows.append([None] * width)
                errors.append(MALFORMED_ROW)
            else:
                rows.append(record)
                errors.append(None)
            numbers.append(number)
            if len(rows) >= CSV_CHUNK_ROWS:
                chunks.append(_raw_frame(header, rows, numbers, errors))
                rows, numbers, errors = [], [], []
    except csv.Error as exc:
        raise _csv_error(exc, number + 1) from None
    chunks.append(_raw_frame(header, rows, numbers, errors))
    return RawTable("", pl.concat(chunks), blank)


def _sheet_rows(values_sheet, formula_sheet):
    """Cells of a sheet; a formula with no cached value reads as the unreadable-cell marker."""
    for values, formulas in zip(values_sheet.iter_rows(values_only=True), formula_sheet.iter_rows(values_only=True)):
        yield [
            UNREADABLE_CELL if v is None and isinstance(f, str) and f.startswith("=") else _text_of(v)
            for v, f in zip(values, formulas)
        ]


def _read_xlsx(path: Path) -> list[RawTable]:
    """Every non-empty sheet, named `<file>#<sheet>` by the caller."""
    import openpyxl

    errors = (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, TypeError, IndexError)
    try:
        values_book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formula_book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except errors as exc:
        raise LandingFileError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    tables = []
    try:
        for index, (values_sheet, formula_sheet) in enumerate(
            zip(values_book.worksheets, formula_book.worksheets), start=1
        ):
            cells = _sheet_rows(values_sheet, formula_sheet)
            header = next(cells, None)
            body, numbers, blank = [], [], 0
            for number, row in enumerate(cells, start=1):
                if all(v is None or not v.strip() for v in row):
                    blank += 1
                    continue
                body.append(row)
                numbers.append(number)
            if header is None or (not body and all(h is None for h in header)):
                continue
            width = len(header)
            body = [(row + [None] * width)[:width] for row in body]
            frame = _raw_frame([h or "" for h in header], body, numbers, [None] * len(body))
            tables.append(RawTable(values_sheet.title or f"sheet{index}", frame, blank))
    except errors as exc:
        raise LandingFileError(f"truncated or corrupt XLSX workbook ({type(exc).__name__})") from None
    finally:
        values_book.close()
        formula_book.close()
    if not tables:
        raise LandingFileError("empty workbook")
    return tables


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise LandingFileError(f"not a readable Parquet file ({type(exc).__name__})") from None
    header = list(frame.columns)
    rows = [[_text_of(v) for v in row] for row in frame.iter_rows()]
    return RawTable("", _raw_frame(header, rows, list(range(1, len(rows) + 1)), [None] * len(rows)))


def read_tables(file: LandingFile) -> list[RawTable]:
    """The file's tables as read, before any contract mapping; raises LandingFileError."""
    suffix = file.path.suffix.lower()
    if suffix == ".csv":
        return [_read_csv(file.path.read_bytes())]
    if suffix == ".xlsx":
        return _read_xlsx(file.path)
    if suffix == ".parquet":
        return [_read_parquet(file.path)]
    raise LandingFileError(f"unsupported file type (expected {', '.join(SUPPORTED_SUFFIXES)})")


def header_key(name: str) -> str:
    """Headers that differ only in case, spaces or a byte-order mark name the same column."""
    return re.sub(r"\s+", "", name.replace("\ufeff", "")).lower()


def _contract_sources(names: list[str], source: str) -> tuple[dict[str, str], list[str]]:
    """Which table column feeds each contract column, and the optional contract columns none feeds.

    Raises LandingFileError for a header lacking required columns or naming one twice.
    """
    wanted = set(contract_columns(source))
    found: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        if name in (ROW_COLUMN, ROW_ERROR_COLUMN):
            continue
        key = header_key(re.sub(r"__\d+$", "", name) if name not in wanted else name)
        if key in wanted:
            found.setdefault(key, []).append(position)
    for column, positions in found.items():
        if len(positions) > 1:
            raise LandingFileError(
                f"columns {', '.join(map(str, positions))} all name contract column "
                f"{column} (headers equal up to case or spaces)"
            )
    missing = [c for c in required_columns(source) if c not in found]
    if missing:
        raise LandingFileError(f"header lacks required columns: {', '.join(missing)}")
    by_column = {column: names[positions[0] - 1] for column, positions in found.items()}
    absent = [
        c
        for c in contract_columns(source)
        if c not in by_column and c not in NON_METRIC_OPTIONAL_COLUMNS and c not in required_columns(source)
    ]
    return by_column, absent


def _contract_frame(raw: pl.DataFrame, source: str) -> tuple[pl.DataFrame, list[str]]:
    """Contract columns from a contract-format table; (frame, optional columns it lacks)."""
    by_column, absent = _contract_sources(raw.columns, source)
    frame = raw.select(
        [
            pl.col(by_column[c]).alias(c) if c in by_column else pl.lit(None, pl.String).alias(c)
            for c in contract_columns(source)
        ]
        + [ROW_COLUMN, ROW_ERROR_COLUMN]
    )
    return frame, absent


def pseudonym(raw: str | None, key: bytes) -> str | None:
    """HMAC-SHA256 of a raw identifier: stable per key, irreversible without it."""
    if raw is None or not raw.strip():
        return None
    return hmac.new(key, raw.strip().encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class LandingRead:
    """A file read into landing rows, with what the run should say about it.

    A contract-format CSV arrives as a LandingStream (rows read from disk when it is inserted);
    every other table as a Polars frame.
    """

    frame: pl.DataFrame | LandingStream
    missing_columns: list[str] = field(default_factory=list)
    table_blank_rows: int = 0
    tables: int = 1

    @property
    def blank_rows(self) -> int:
        """A stream's blank rows are known once it is inserted (or counted on demand)."""
        return self.frame.blank_rows if isinstance(self.frame, LandingStream) else self.table_blank_rows


def _to_contract(table: RawTable, file: LandingFile, mappings_dir: Path | None) -> tuple[pl.DataFrame, list[str]]:
    from pipelines.platforms import convert_export

    converted = convert_export(table.frame, file.name, file.source, mappings_dir)
    if converted is None:
        return _contract_frame(table.frame, file.source)
    return _contract_frame(converted, file.source)


def read_landing(file: LandingFile, key: bytes, mappings_dir: Path | None = None) -> LandingRead:
    """The file as text columns `file, row_number, landing_file, row_error, <contract columns>`.

    Raises LandingFileError with a bounded reason for anything that makes the file unreadable,
    whatever the cause: one bad file never stops a run.
    """
    try:
        return _read_landing(file, key, mappings_dir)
    except LandingFileError:
        raise
    except Exception as exc:
        raise LandingFileError(f"unreadable file ({type(exc).__name__})") from None


def _read_streamed_csv(file: LandingFile, key: bytes, mappings_dir: Path | None) -> LandingRead | None:
    """A contract-format CSV as a LandingStream, in memory independent of its size; None for a
    survey-platform export, which is read whole as before (exports are questionnaire-sized)."""
    from pipelines.platforms import convert_export

    try:
        source = CsvSource(file.path)
    except CsvError as exc:
        raise LandingFileError(str(exc)) from None
    try:
        probe = _raw_frame(source.header, [], [], [])
        try:
            export = convert_export(probe, file.name, file.source, mappings_dir) is not None
        except LandingFileError:
            export = True
        if export or source.whole:
            source.close()
            return None
        by_column, absent = _contract_sources(probe.columns, file.source)
        if source.rows == 0:
            raise LandingFileError("no data rows")
        columns = contract_columns(file.source)
        positions = {c: probe.columns.index(by_column[c]) if c in by_column else None for c in columns}
        hashed = {rule.column for rule in rules_for(file.source) if rule.pseudonymised}
        stream = source.stream(positions, hashed, key, file=file.name, landing_file=file.name)
    except BaseException:
        source.close()
        raise
    return LandingRead(stream, [c for c in columns if c in absent], 0, 1)


def _read_landing(file: LandingFile, key: bytes, mappings_dir: Path | None) -> LandingRead:
    if file.path.suffix.lower() == ".csv":
        streamed = _read_streamed_csv(file, key, mappings_dir)
        if streamed is not None:
            return streamed
    tables = read_tables(file)
    multi_sheet = file.path.suffix.lower() == ".xlsx"
    frames, missing, blank = [], [], 0
    for index, table in enumerate(tables, start=1):
        try:
            frame, absent = _to_contract(table, file, mappings_dir)
        except LandingFileError as exc:
            raise LandingFileError(f"sheet {index} of {len(tables)}: {exc}" if len(tables) > 1 else str(exc)) from None
        name = f"{file.name}#{table.name}" if multi_sheet else file.name
        frames.append(frame.with_columns(pl.lit(name).alias("file")))
        missing += [c for c in absent if c not in missing]
        blank += table.blank_rows
    frame = pl.concat(frames)
    if frame.height == 0:
        raise LandingFileError("no data rows")
    for rule in rules_for(file.source):
        if rule.pseudonymised:
            frame = frame.with_columns(
                pl.col(rule.column).map_elements(lambda v: pseudonym(v, key), return_dtype=pl.String)
            )
    columns = contract_columns(file.source)
    frame = frame.select(
        "file",
        pl.col(ROW_COLUMN).alias("row_number"),
        pl.lit(file.name).alias("landing_file"),
        pl.col(ROW_ERROR_COLUMN).alias("row_error"),
        *columns,
    )
    return LandingRead(frame, [c for c in columns if c in missing], blank, len(tables))


def read_landing_file(file: LandingFile, key: bytes, mappings_dir: Path | None = None) -> pl.DataFrame:
    """The whole file as one frame: for tests and small files; the warehouse load streams."""
    frame = read_landing(file, key, mappings_dir).frame
    if isinstance(frame, pl.DataFrame):
        return frame
    try:
        return frame.collect()
    finally:
        frame.close()


def waves_in_file(file: LandingFile, mappings_dir: Path | None = None) -> set[str]:
    """The valid wave keys a file holds; the sensor uses it to know which partitions to run."""
    from pipelines.catalogue.rules import WAVE_PATTERN

    frame = read_landing(file, key=b"", mappings_dir=mappings_dir).frame
    if isinstance(frame, pl.DataFrame):
        values = set(frame["wave"].drop_nulls().unique().to_list())
    else:
        try:
            values = {v for batch in frame.batches() for v in pc.unique(batch.column("wave")).to_pylist() if v}
        finally:
            frame.close()
    pattern = re.compile(WAVE_PATTERN)
    return {w.strip() for w in values if pattern.fullmatch(w.strip())}
