"""Reading landing files into all-text Polars frames of contract columns only.

Every value stays text so the rule table, not a reader's type guess, decides what is
malformed. GBK/GB18030 are transcoded here because DuckDB's encodings extension cannot
be downloaded offline. Columns the contract does not list never leave this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.rules import WAVE_PATTERN, contract_columns, required_columns, rules_for

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".parquet")


class LandingFileError(Exception):
    """A file that cannot be read as a table of contract columns; the message is one line."""


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    name: str
    sha256: str
    size: int


def list_landing_files(landing_dir: Path, source: str) -> list[LandingFile]:
    """Every regular file under the source's landing folder, sorted by relative name."""
    folder = landing_dir / source
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        files.append(LandingFile(source, path, path.relative_to(folder).as_posix(),
                                 hashlib.sha256(data).hexdigest(), len(data)))
    return files


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, the superset of GBK."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
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


def _read_csv(data: bytes) -> pl.DataFrame:
    text = decode_text(data)
    if not text.strip():
        raise LandingFileError("empty file")
    try:
        return pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as exc:
        raise LandingFileError(f"unreadable CSV: {str(exc).splitlines()[0]}") from None


def _read_xlsx(path: Path) -> pl.DataFrame:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise LandingFileError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise LandingFileError("empty workbook")
        names = [_text_of(h) or f"column_{i}" for i, h in enumerate(header)]
        body = [[_text_of(v) for v in row] for row in rows if any(v is not None for v in row)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise LandingFileError(f"truncated or corrupt XLSX workbook ({type(exc).__name__})") from None
    finally:
        workbook.close()
    width = len(names)
    body = [(row + [None] * width)[:width] for row in body]
    return pl.DataFrame(body, schema={n: pl.String for n in _dedupe(names)}, orient="row")


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file, not a crash
        raise LandingFileError(f"not a readable Parquet file ({type(exc).__name__})") from None
    return pl.DataFrame({name: [_text_of(v) for v in frame[name].to_list()] for name in frame.columns},
                        schema={name: pl.String for name in frame.columns})


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}__{seen[name]}")
    return out


def pseudonym(raw: str | None, key: bytes) -> str | None:
    """HMAC-SHA256 of a raw identifier: stable per key, irreversible without it."""
    if raw is None or not raw.strip():
        return None
    return hmac.new(key, raw.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def read_landing_file(file: LandingFile, key: bytes) -> pl.DataFrame:
    """The file as text columns `file, row_number, <contract columns>`; raises LandingFileError."""
    suffix = file.path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(file.path.read_bytes())
    elif suffix == ".xlsx":
        frame = _read_xlsx(file.path)
    elif suffix == ".parquet":
        frame = _read_parquet(file.path)
    else:
        raise LandingFileError(f"unsupported file type '{suffix or file.path.name}' "
                               f"(expected {', '.join(SUPPORTED_SUFFIXES)})")
    frame = frame.rename({c: c.strip().lstrip("\ufeff").lower() for c in frame.columns})
    missing = [c for c in required_columns(file.source) if c not in frame.columns]
    if missing:
        raise LandingFileError(f"header lacks required columns: {', '.join(missing)}")
    if frame.height == 0:
        raise LandingFileError("no data rows")
    columns = contract_columns(file.source)
    kept = frame.select(
        [pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
         for c in columns]
    )
    for rule in rules_for(file.source):
        if rule.pseudonymised:
            kept = kept.with_columns(
                pl.col(rule.column).map_elements(lambda v: pseudonym(v, key), return_dtype=pl.String)
            )
    return kept.with_columns(
        pl.lit(file.name).alias("file"),
        pl.int_range(1, kept.height + 1, dtype=pl.Int64).alias("row_number"),
    ).select(["file", "row_number", *columns])


def waves_in_file(file: LandingFile) -> set[str]:
    """The valid wave keys a file holds; the sensor uses it to know which partitions to run."""
    frame = read_landing_file(file, key=b"")
    pattern = re.compile(WAVE_PATTERN)
    return {w.strip() for w in frame["wave"].drop_nulls().unique().to_list() if pattern.fullmatch(w.strip())}
