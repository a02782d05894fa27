"""Contract-format CSVs read in bounded memory: checked or transcoded in chunks, parsed by DuckDB.

Plain UTF-8 is read in place after a byte-level pass (validity, NUL, CR, empty lines); GBK/GB18030,
UTF-8 with a BOM and UTF-16 are decoded chunk by chunk into a UTF-8 copy in a private temporary
folder. DuckDB counts the rows in an in-memory connection that never touches the warehouse; the
rows then go into the warehouse by one `insert … select` from `read_csv` on the warehouse's own
connection (or, for other consumers, as an Arrow stream), the identifier columns hashed in the
query's projection: the raw identifier exists only in the landing file, its temporary copy and
the reading query's memory, never in a table, temporary or not.
Files whose layout DuckDB's reader might number differently from Python's csv module (empty
lines, lone carriage returns, NUL bytes, ragged rows, stray quotes) take a slower pass through
the csv module first, which also gives the exact row and reason of any parse error.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.resources import load_sql

CHUNK_BYTES = 2**20
BATCH_ROWS = 65_536
MEMORY_LIMIT = "256MB"
FIELD_LIMIT = 64 * 2**20
WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
"""What Python's str.strip() removes: the blank-row and pseudonym rules strip exactly these."""
STRIP_PATTERN = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"
BLANK_PATTERN = f"[{WHITESPACE}]*"
NOT_SIMPLE = re.compile("\x00|\r(?=[^\n])|\n\r?\n")
"""Text DuckDB's reader would count or skip differently from the csv module: NUL, a lone CR, an empty line."""
NOT_SIMPLE_BYTES = re.compile(NOT_SIMPLE.pattern.encode())
NULL_MARK = "\x00"
"""DuckDB's null string: a file with NUL takes the csv-module pass, whose output quotes every field
(and quoted fields are never null), so every field is text, '' included."""


class CsvError(Exception):
    """The reason a CSV cannot be read; scan.py turns it into a LandingFileError."""


@dataclass
class Decoded:
    path: Path
    first_line: str
    simple: bool


def _codec_of(head: bytes) -> tuple[str, int, str]:
    """(codec, bytes to skip, error template) from the first bytes, as decode_text decides."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8", 3, "starts with a UTF-8 byte-order mark but is not UTF-8 (byte {})"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", 0, "starts with a UTF-16 byte-order mark but is not UTF-16 (byte {})"
    return "utf-8", 0, "not UTF-8, GBK or GB18030 text (byte {})"


def _decode_pass(source: Path, codec: str, skip: int, target: Path | None) -> tuple[str, bool, bool]:
    """Decode the file once, writing UTF-8 to `target` when given; (first line, has text, simple).

    Raises UnicodeDecodeError with `start` set to the absolute byte offset of the bad byte.
    """
    decoder = codecs.getincrementaldecoder(codec)()
    first: list[str] = []
    first_done, has_text, simple, tail, offset = False, False, True, "\n", skip
    out = target.open("w", encoding="utf-8", newline="") if target is not None else None
    try:
        with source.open("rb") as handle:
            handle.seek(skip)
            while True:
                block = handle.read(CHUNK_BYTES)
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    exc.start += offset - pending
                    raise
                offset += len(block)
                if out is not None:
                    out.write(text)
                has_text = has_text or bool(text.strip())
                if not first_done:
                    head, newline, _ = text.partition("\n")
                    first.append(head)
                    first_done = bool(newline) or sum(map(len, first)) > FIELD_LIMIT
                if simple and NOT_SIMPLE.search(tail + text):
                    simple = False
                tail = (tail + text)[-2:]
                if not block:
                    break
    finally:
        if out is not None:
            out.close()
    return "".join(first), has_text, simple and not tail.endswith("\r")


def _plain_pass(source: Path) -> tuple[str, bool, bool]:
    """_decode_pass for a file read in place as UTF-8, at byte-search speed: the chunks are only
    validated, and NUL, CR and empty lines looked for in the bytes (in UTF-8 no other character
    holds their bytes); a chunk with a NUL or a CR gets _decode_pass's exact pattern."""
    first: list[str] = []
    first_done, has_text, simple, pending, tail, offset = False, False, True, b"", b"\n", 0
    with source.open("rb") as handle:
        while True:
            block = handle.read(CHUNK_BYTES)
            data = pending + block
            try:
                text, used = codecs.utf_8_decode(data, "strict", not block)
            except UnicodeDecodeError as exc:
                exc.start += offset - len(pending)
                raise
            pending = data[used:]
            offset += len(block)
            has_text = has_text or bool(text.strip())
            if not first_done:
                head, newline, _ = text.partition("\n")
                first.append(head)
                first_done = bool(newline) or sum(map(len, first)) > FIELD_LIMIT
            window = tail + block
            if simple and (b"\x00" in window or b"\r" in window):
                simple = not NOT_SIMPLE_BYTES.search(window)
            elif simple:
                simple = b"\n\n" not in window
            tail = window[-2:]
            if not block:
                break
    return "".join(first), has_text, simple and not tail.endswith(b"\r")


def decode_to_utf8(source: Path, workdir: Path) -> Decoded:
    """The file as UTF-8 on disk (itself when it already is), in chunks; raises CsvError."""
    with source.open("rb") as handle:
        head = handle.read(4)
    codec, skip, message = _codec_of(head)
    target = workdir / "utf8.csv"
    plain = codec == "utf-8" and skip == 0
    try:
        if plain:
            first, has_text, simple = _plain_pass(source)
        else:
            first, has_text, simple = _decode_pass(source, codec, skip, target)
        path = source if plain else target
    except UnicodeDecodeError as exc:
        if not plain:
            raise CsvError(message.format(exc.start)) from None
        try:
            first, has_text, simple = _decode_pass(source, "gb18030", 0, target)
        except UnicodeDecodeError as gb_exc:
            raise CsvError(message.format(gb_exc.start)) from None
        path = target
    if not has_text:
        raise CsvError("empty file")
    return Decoded(path, first.removesuffix("\r"), simple)


def csv_parse_error(exc: csv.Error, row: int) -> CsvError:
    """Row 0 is the header; the parser's own message is not used, as it quotes the text."""
    kind = "a NUL byte (binary content)" if "NUL" in str(exc) else "an unterminated or misplaced quote"
    where = "the header" if row == 0 else f"data row {row}"
    return CsvError(f"CSV cannot be parsed at {where}: {kind}")


class CsvSource:
    """One CSV's header and row counts, and its rows as an Arrow stream once the columns are chosen.

    The temporary folder and the in-memory connection live as long as this object.
    """

    def __init__(self, path: Path):
        self.workdir = Path(tempfile.mkdtemp(prefix="jianfu-csv-"))
        self.conn = duckdb.connect(
            ":memory:", config={"temp_directory": str(self.workdir / "spill"), "memory_limit": MEMORY_LIMIT}
        )
        self._finalizer = weakref.finalize(self, _cleanup, self.conn, self.workdir)
        self.header: list[str] = []
        self.normalized = False
        self.whole = False
        """True when even the normalized file defeats DuckDB's reader (a line over its 2 MB limit):
        the caller then reads the file whole, as before streaming."""
        self.total, self.suspects = 0, 0
        """Rows (blank ones included), and rows whose first field may be blank: only when there are
        some does the stream test whole rows for blankness."""
        self.rows: int | None = None
        self.blank_rows: int | None = None
        """None until known; rows is then above 0, as some first field was visible."""
        try:
            self.conn.execute(load_sql("ingest/csv_macros.sql"))
            decoded = decode_to_utf8(path, self.workdir)
            self.path = decoded.path
            self.delimiter = "\t" if "\t" in decoded.first_line and "," not in decoded.first_line else ","
            if not (decoded.simple and self._simple_header(decoded.first_line) and self._count_with_duckdb()):
                self._normalize(decoded.path)
                self.whole = not self._duckdb_reads_normalized()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._finalizer()

    def _simple_header(self, line: str) -> bool:
        if line.count('"') % 2:
            return False
        try:
            self.header = next(csv.reader([line], delimiter=self.delimiter, strict=True), [])
        except csv.Error:
            return False
        return bool(self.header)

    def _csv_params(self, columns: list[str], skip: int) -> dict:
        """What sql/ingest/read_utf8_csv.sql binds: every column text, '' kept apart from a missing value."""
        return {
            "path": str(self.path),
            "skip": skip,
            "delim": self.delimiter,
            "nullstr": NULL_MARK,
            "columns": dict.fromkeys(columns, "varchar"),
        }

    def _raw_columns(self) -> list[str]:
        return [f"c{i}" for i in range(1, len(self.header) + 1)]

    def _blank_sql(self) -> str:
        raw = self._raw_columns()
        return f"blank_row({raw[0]}, concat({', '.join(raw)}), $blank)"

    def _count_with_duckdb(self) -> bool:
        """Rows, and rows whose first field may be blank, by DuckDB; False when its reader rejects
        the file (the csv module decides). The strict reader checks every row's shape even when
        only the first field is read. Blank rows are counted here only when every row is suspect
        (the file may hold no data row); otherwise the insert or `count_blank` settles them.
        """
        raw = self._raw_columns()
        try:
            ((self.total, self.suspects),) = self.conn.execute(
                f"select count(*), count(*) filter (where not coalesce(visible_start({raw[0]}), false)) {self._source()}",
                self._csv_params(raw, 1),
            ).fetchall()
            if not self.suspects:
                self.rows, self.blank_rows = self.total, 0
            elif self.suspects == self.total:
                self.count_blank()
        except duckdb.Error:
            return False
        return True

    @staticmethod
    def _source() -> str:
        return "from utf8_csv($path, $skip, $delim, $nullstr, $columns)"

    def count_blank(self) -> int:
        """The blank rows, counted by re-reading every field when the first fields did not settle it."""
        if self.blank_rows is None:
            ((blank,),) = self.conn.execute(
                f"select count(*) filter (where {self._blank_sql()}) {self._source()}",
                {**self._csv_params(self._raw_columns(), 1), "blank": BLANK_PATTERN},
            ).fetchall()
            self.rows, self.blank_rows = self.total - blank, blank
        return self.blank_rows

    def settle(self, rows: int) -> None:
        """What an insert of every non-blank row found: the rows, so the blank rows too."""
        if self.blank_rows is None:
            self.rows, self.blank_rows = rows, self.total - rows

    def _duckdb_reads_normalized(self) -> bool:
        columns = ["__row", "__row_error", *self._raw_columns()]
        try:
            self.conn.execute(
                "select count(*) from utf8_csv($path, $skip, $delim, $nullstr, $columns)",
                self._csv_params(columns, 0),
            ).fetchall()
        except duckdb.Error:
            return False
        return True

    def _normalize(self, path: Path) -> None:
        """The csv module's reading, written as `row, error, fields…` for DuckDB; raises CsvError on a parse error."""
        csv.field_size_limit(FIELD_LIMIT)
        target = self.workdir / "normalized.csv"
        with path.open(encoding="utf-8", newline="") as handle, target.open("w", encoding="utf-8", newline="") as out:
            reader = csv.reader(handle, delimiter=self.delimiter, strict=True)
            writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
            try:
                self.header = next(reader)
            except csv.Error as exc:
                raise csv_parse_error(exc, 0) from None
            except StopIteration:
                raise CsvError("empty file") from None
            width, number, blank, rows = len(self.header), 0, 0, 0
            empty = [""] * width
            try:
                for record in reader:
                    number += 1
                    if not any(field.strip() for field in record):
                        blank += 1
                        continue
                    rows += 1
                    if len(record) != width:
                        writer.writerow([number, "malformed_row", *empty])
                    else:
                        writer.writerow([number, "", *record])
            except csv.Error as exc:
                raise csv_parse_error(exc, number + 1) from None
        self.path, self.normalized, self.delimiter = target, True, ","
        self.rows, self.blank_rows = rows, blank

    def stream(self, positions: dict[str, int | None], hashed: set[str], key: bytes, file: str, landing_file: str):
        """Rows as `file, row_number, landing_file, row_error, <columns>`; positions are 0-based header indexes.

        Only column identifiers the code chose (c1…, contract names) are spliced into the query;
        every value, the file's path and the key's pads included, is a bound parameter.
        """
        raw = self._raw_columns()
        projected = []
        for column, position in positions.items():
            value = "null::varchar" if position is None else raw[position]
            if position is not None and column in hashed:
                value = f"pseudonym({value}, $strip, $inner_pad, $outer_pad)"
            if position is not None and self.normalized:
                value = f"case when __row_error = '' then {value} end"
            projected.append(f"{value} as {column}")
        if self.normalized:
            number, error, blank = "__row::bigint", "nullif(__row_error, '')", "false"
        else:
            number, error = "row_number() over ()", "null::varchar"
            blank = self._blank_sql() if self.suspects else "false"
        output = ", ".join(["file", "row_number", "landing_file", "row_error", *positions])
        query = (
            f"select {output} from (select $file as file, {number} as row_number, "
            f"$landing_file as landing_file, {error} as row_error, {', '.join(projected)}, {blank} as __blank "
            "from utf8_csv($path, $skip, $delim, $nullstr, $columns)) where not __blank"
        )
        inner_pad, outer_pad = _pads(key)
        columns = ["__row", "__row_error", *raw] if self.normalized else raw
        params = {
            **self._csv_params(columns, 0 if self.normalized else 1),
            "file": file,
            "landing_file": landing_file,
            "strip": STRIP_PATTERN,
            "inner_pad": inner_pad,
            "outer_pad": outer_pad,
            "blank": BLANK_PATTERN,
        }
        used = {name: value for name, value in params.items() if f"${name}" in query}
        return LandingStream(self, query, used)


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys (RFC 2104), so DuckDB computes the same hash as hmac."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def _cleanup(conn: duckdb.DuckDBPyConnection, workdir: Path) -> None:
    conn.close()
    shutil.rmtree(workdir, ignore_errors=True)


class LandingStream:
    """Landing rows, inserted by `insert_into` or scanned as an Arrow stream; each use re-reads the file.

    `height` (rows, blank rows excluded) is known after the insert, or counted when asked before.
    Row numbers come from a streaming `row_number() over ()` in file order, blank rows counted.
    """

    def __init__(self, source: CsvSource, query: str, params: dict):
        self.source, self.query, self.params = source, query, params

    @property
    def height(self) -> int:
        self.source.count_blank()
        assert self.source.rows is not None
        return self.source.rows

    @property
    def blank_rows(self) -> int:
        return self.source.count_blank()

    def insert_into(
        self, conn: duckdb.DuckDBPyConnection, table: str, derived: str = "", params: dict | None = None
    ) -> None:
        """Insert the rows into `table` straight from the file, in `conn`; `derived` (`expr as name, …`,
        binding `params`) adds columns computed from the row's. Table and expressions are the code's own.

        Faster than the Arrow stream: one query, no conversion. The raw identifier is hashed in
        the query's projection and never stored; the macros are temp macros of that connection.
        """
        conn.execute(load_sql("ingest/csv_macros.sql"))
        extra = f", {derived}" if derived else ""
        ((inserted,),) = conn.execute(
            f"insert into {table} by name select *{extra} from ({self.query})", {**self.params, **(params or {})}
        ).fetchall()
        self.source.settle(inserted)

    def reader(self) -> pa.RecordBatchReader:
        return self.source.conn.sql(self.query, params=self.params).to_arrow_reader(BATCH_ROWS)

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self.reader()

    def __arrow_c_stream__(self, requested_schema=None):
        return self.reader().__arrow_c_stream__(requested_schema)

    def collect(self) -> pl.DataFrame:
        frame = pl.from_arrow(self.reader().read_all())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def close(self) -> None:
        self.source.close()


def insert_landing(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame | LandingStream,
    derived: str = "",
    params: dict | None = None,
) -> None:
    """A read file's rows into `table`, with the `derived` columns (`expr as name, …`, binding `params`):
    a CSV straight from the file, a frame by Arrow. Table and expressions are the code's own."""
    if isinstance(frame, LandingStream):
        frame.insert_into(conn, table, derived, params)
        return
    extra = f", {derived}" if derived else ""
    conn.register("landing_frame", frame)
    conn.execute(f"insert into {table} by name select *{extra} from landing_frame", params or {})
    conn.unregister("landing_frame")
