"""Streaming CSV ingest (pipelines/landing/stream.py) and the incremental-run fingerprints, without Dagster runs."""

from __future__ import annotations

import hashlib
import re

import duckdb
import pytest

from pipelines.catalogue.rules import TEACHER_SURVEY, contract_columns
from pipelines.landing import state, stream
from pipelines.landing.scan import (
    LandingFile,
    LandingFileError,
    decode_text,
    pseudonym,
    read_landing,
    read_landing_file,
    scan_landing,
)
from pipelines.landing.stream import LandingStream, insert_landing

HEADER = "wave,response_id,school_code,school_level,submitted_at,teacher_id,hours_total"
ROWS = [
    "2024-05,R1,1501020001,小学,2024-05-10 09:00:00,\u3000T-001 ,50",
    "2024-05,R2,1501020001,小学,2024-05-10 09:00:00,教师二,",
    "2024-05,R3,1501020002,初中,2024-05-10 09:00:00,,45",
]
KEY = b"k" * 80
"""Longer than SHA-256's block: HMAC hashes such a key first, and the SQL must too."""


def _file(tmp_path, name: str, data: bytes) -> LandingFile:
    path = tmp_path / name
    path.write_bytes(data)
    return LandingFile(TEACHER_SURVEY, path, name, "x", len(data))


def _csv(lines: list[str], newline: str = "\n") -> str:
    return newline.join([HEADER, *lines]) + newline


def test_encodings_stream_the_same_rows_with_hmac_pseudonyms(tmp_path):
    text = _csv(ROWS)
    frames = [
        read_landing_file(_file(tmp_path, f"{name}.csv", data), key=KEY)
        for name, data in [
            ("utf8", text.encode("utf-8")),
            ("bom", b"\xef\xbb\xbf" + text.encode("utf-8")),
            ("gbk", text.encode("gbk")),
            ("crlf", _csv(ROWS, "\r\n").encode("gb18030")),
        ]
    ]
    expected = [pseudonym("\u3000T-001 ", KEY), pseudonym("教师二", KEY), None]
    assert expected[0] == pseudonym("T-001", KEY) and expected[0] is not None
    for frame in frames:
        assert frame.columns == ["file", "row_number", "landing_file", "row_error", *contract_columns(TEACHER_SURVEY)]
        assert frame["teacher_id"].to_list() == expected
        assert frame["row_number"].to_list() == [1, 2, 3]
        assert frame["hours_total"].to_list() == ["50", "", "45"]
        assert frame["school_level"].to_list() == ["小学", "小学", "初中"] and frame["n_forms"].null_count() == 3
        assert frame.drop("file", "landing_file").equals(frames[0].drop("file", "landing_file"))


def test_csv_arrives_as_a_stream_whose_height_is_known_and_holds_no_raw_id(tmp_path):
    read = read_landing(_file(tmp_path, "s.csv", _csv(ROWS).encode()), key=KEY)
    assert isinstance(read.frame, LandingStream) and read.frame.height == 3
    workdir = read.frame.source.workdir
    conn = duckdb.connect()
    conn.execute("create table t (teacher_id varchar, row_number bigint, hours_total varchar)")
    conn.register("landing_frame", read.frame)
    conn.execute("insert into t by name select teacher_id, row_number, hours_total from landing_frame")
    rows = conn.execute("select * from t order by row_number").fetchall()
    assert rows == [(pseudonym("T-001", KEY), 1, "50"), (pseudonym("教师二", KEY), 2, ""), (None, 3, "45")]
    assert not any("T-001" in str(v) or "教师二" in str(v) for row in rows for v in row)
    read.frame.close()
    assert not workdir.exists()


@pytest.mark.parametrize("separator", ["  ,  ,\t, , ,\u3000,", ""], ids=["whitespace-row", "empty-line"])
def test_blank_rows_are_counted_and_numbered_like_the_csv_module(tmp_path, separator):
    """A whitespace-only row stays on DuckDB's path, an empty line takes the csv-module pass: same result."""
    read = read_landing(_file(tmp_path, "b.csv", _csv([ROWS[0], separator, ROWS[2]]).encode()), key=KEY)
    frame = read_landing_file(_file(tmp_path, "b2.csv", _csv([ROWS[0], separator, ROWS[2]]).encode()), key=KEY)
    assert read.blank_rows == 1 and read.frame.height == 2
    assert frame["row_number"].to_list() == [1, 3] and frame["response_id"].to_list() == ["R1", "R3"]


def test_ragged_rows_are_malformed_with_their_numbers_and_no_values(tmp_path):
    lines = [ROWS[0], "2024-05,R2,1501020001", ROWS[2] + ",extra"]
    read = read_landing(_file(tmp_path, "r.csv", _csv(lines).encode()), key=KEY)
    frame = read.frame.collect() if isinstance(read.frame, LandingStream) else read.frame
    assert frame["row_error"].to_list() == [None, "malformed_row", "malformed_row"]
    assert frame["row_number"].to_list() == [1, 2, 3]
    assert frame["response_id"].to_list() == ["R1", None, None] and frame["teacher_id"].null_count() == 2


@pytest.mark.parametrize(
    ("body", "where", "kind"),
    [
        ('2024-05,"R9,SECRET-NAME,1\n', "data row 1", "quote"),
        ('2024-05,R1,1,1\n2024-05,"R2"SECRET,1,1\n', "data row 2", "quote"),
    ],
)
def test_parse_errors_name_the_row_never_the_text(tmp_path, body, where, kind):
    with pytest.raises(LandingFileError) as caught:
        read_landing(_file(tmp_path, "e.csv", (HEADER + "\n" + body).encode()), key=KEY)
    message = str(caught.value)
    assert message.startswith(f"CSV cannot be parsed at {where}: ") and kind in message and "SECRET" not in message


def test_nul_bytes_stay_text_as_the_csv_module_reads_them(tmp_path):
    row = "2024-05,R1,15\x0001,\x00,2024-05-10 09:00:00,T1,"
    frame = read_landing_file(_file(tmp_path, "n.csv", _csv([row]).encode()), key=KEY)
    assert frame.select("row_error", "school_code", "school_level", "hours_total").rows() == [
        (None, "15\x0001", "\x00", "")
    ]


def test_encoding_errors_name_the_absolute_byte(tmp_path):
    for data in (_csv(ROWS).encode("utf-8") + b"\x81\x20\xff\n", _csv(ROWS[:1] * 9000).encode("gbk") + b"\xff"):
        with pytest.raises(LandingFileError) as whole:
            decode_text(data)
        assert str(whole.value).startswith("not UTF-8, GBK or GB18030 text (byte ")
        with pytest.raises(LandingFileError, match=re.escape(str(whole.value))):
            read_landing(_file(tmp_path, "x.csv", data), key=KEY)
    with pytest.raises(LandingFileError, match=r"byte-order mark but is not UTF-8 \(byte 5\)"):
        read_landing(_file(tmp_path, "y.csv", b"\xef\xbb\xbfab\xff"), key=KEY)
    with pytest.raises(LandingFileError, match=r"^empty file$"):
        read_landing(_file(tmp_path, "z.csv", b" \n\r\n"), key=KEY)
    with pytest.raises(LandingFileError, match=r"^no data rows$"):
        read_landing(_file(tmp_path, "h.csv", (HEADER + "\n , , , , , ,\n").encode()), key=KEY)


def test_wave_code_version_ignores_the_generator_and_the_command_line():
    wave = {p.relative_to(state.REPO_ROOT).as_posix() for p in state.module_closure(state.CODE_ROOTS["wave"][0])}
    assert "pipelines/warehouse/tables.py" in wave and "sql" not in wave
    assert "assets/staging.py" in wave and "pipelines/estimation/small_area.py" in wave
    assert not any(p.startswith("pipelines/synthetic/") for p in wave)
    assert {"pipelines/cli.py", "pipelines/runner.py", "assets/reports.py"}.isdisjoint(wave)


def test_changed_parts_say_why_a_wave_is_restaged():
    old = "files=a;reference=r;settings=s;code=c"
    assert state.changed_parts(old, old) == []
    assert state.changed_parts(old, "files=a;reference=r;settings=s;code=d") == ["code"]
    assert state.changed_parts(old, "files=b;reference=q;settings=s;code=c") == ["files", "reference"]
    assert state.changed_parts(None, old) == ["never built"]
    assert state.changed_parts("0123abcd", old) == ["inputs"]


def test_a_line_over_duckdbs_limit_is_read_whole_with_the_same_result(tmp_path):
    huge = "9" * (3 * 2**20)
    row = f"2024-05,R2,1501020001,小学,2024-05-10 09:00:00,T2,{huge}"
    read = read_landing(_file(tmp_path, "huge.csv", _csv([ROWS[0], row]).encode()), key=KEY)
    assert not isinstance(read.frame, LandingStream)
    assert read.frame["hours_total"].to_list() == ["50", huge]
    assert read.frame["teacher_id"].to_list() == [pseudonym("T-001", KEY), pseudonym("T2", KEY)]


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\r\n1,2\r\n",
        b"a,b\n1,2\r3,4\n",
        b"a,b\n1,2\n\n3,4\n",
        b"a,b\n1,2\n\r\n3,4\n",
        b"a,b\n1,\x002\n",
        b"a,b\n1,2\r",
        b"\na,b\n1,2\n",
        "a,b\n教,师\n".encode(),
        b"  \n \t ",
    ],
    ids=["crlf", "lone-cr", "empty-line", "empty-crlf-line", "nul", "cr-at-end", "leading-empty", "cjk", "whitespace"],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 2**20])
def test_the_byte_pass_over_utf8_agrees_with_the_text_pass(tmp_path, monkeypatch, data, chunk):
    """Chunk edges anywhere (inside a character, between CR and LF, between two LFs): same first line and verdicts."""
    monkeypatch.setattr(stream, "CHUNK_BYTES", chunk)
    path = tmp_path / "p.csv"
    path.write_bytes(data)
    assert stream._plain_pass(path) == stream._decode_pass(path, "utf-8", 0, None)


def test_the_byte_pass_names_the_absolute_byte_of_bad_utf8(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 3)
    path = tmp_path / "bad.csv"
    path.write_bytes("a,b\n教师,".encode() + b"\xff\n")
    with pytest.raises(UnicodeDecodeError) as plain:
        stream._plain_pass(path)
    with pytest.raises(UnicodeDecodeError) as text:
        stream._decode_pass(path, "utf-8", 0, None)
    assert plain.value.start == text.value.start == 11


def test_direct_insert_matches_the_arrow_stream_and_stores_no_raw_id(tmp_path):
    """A first field that is blank (or not ASCII) does not make a row blank; whitespace-only rows still are."""
    lines = [ROWS[0], ",R4,1501020001,,,T-004,", "  ,  ,\t, , ,\u3000,", "小学,R5,1501020001,,,T-005,1", ROWS[2]]
    path = tmp_path / "d.csv"
    path.write_bytes(_csv(lines).encode())
    database = tmp_path / "w.duckdb"
    conn = duckdb.connect(str(database))
    columns = ["file", "row_number", "landing_file", "row_error", *contract_columns(TEACHER_SURVEY)]
    conn.execute("create table t (" + ", ".join(f"{c} varchar" for c in columns) + ")")
    read = read_landing(_file(tmp_path, "d.csv", path.read_bytes()), key=KEY)
    assert read.blank_rows == 1 and read.frame.height == 4
    insert_landing(conn, "t", read.frame)
    direct = conn.execute("select * from t order by row_number::int").fetchall()
    arrow = read_landing_file(_file(tmp_path, "d.csv", path.read_bytes()), key=KEY)
    assert direct == [tuple(None if v is None else str(v) for v in row) for row in arrow.rows()]
    assert [row[1] for row in direct] == ["1", "2", "4", "5"]
    assert [row[columns.index("teacher_id")] for row in direct] == [
        pseudonym("T-001", KEY),
        pseudonym("T-004", KEY),
        pseudonym("T-005", KEY),
        None,
    ]
    settled = read_landing(_file(tmp_path, "d2.csv", path.read_bytes()), key=KEY)
    assert settled.frame.source.blank_rows is None
    insert_landing(conn, "t", settled.frame)
    assert (settled.frame.source.blank_rows, settled.blank_rows, settled.frame.height) == (1, 1, 4)
    conn.execute("checkpoint")
    conn.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("w.duckdb*"))
    assert b"T-004" not in stored and b"T-005" not in stored and pseudonym("T-004", KEY).encode() in stored


def test_a_rewritten_file_is_hashed_again_within_one_process(tmp_path):
    folder = tmp_path / "landing" / TEACHER_SURVEY
    folder.mkdir(parents=True)
    path = folder / "a.csv"
    path.write_bytes(b"wave\n2024-05\n")
    first = scan_landing(tmp_path / "landing", TEACHER_SURVEY)[0][0].sha256
    assert scan_landing(tmp_path / "landing", TEACHER_SURVEY)[0][0].sha256 == first
    path.write_bytes(b"wave\n2024-06\n")
    assert (
        scan_landing(tmp_path / "landing", TEACHER_SURVEY)[0][0].sha256
        == hashlib.sha256(b"wave\n2024-06\n").hexdigest()
    )
