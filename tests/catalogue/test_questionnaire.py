"""questionnaire.csv as the one source: its checks, the printable questionnaire, the 问卷星 import file, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.catalogue.questionnaire import (
    TARGET_SECONDS,
    QuestionnaireError,
    estimated_seconds,
    load_questionnaire,
    normalise,
)
from pipelines.catalogue.rules import SCHOOL_LEVELS, TEACHER_SURVEY, contract_columns
from pipelines.cli import main
from pipelines.landing.scan import LandingFile, read_landing_file
from pipelines.platforms.printable import questionnaire_html, wjx_import_text
from pipelines.resources import SHIPPED_REFERENCE_DIR

QUESTIONS = load_questionnaire()


def test_one_row_per_teacher_answered_column_in_order_with_contract_codes():
    teacher_columns = [
        c for c in contract_columns(TEACHER_SURVEY) if c not in ("wave", "response_id", "submitted_at", "seconds_taken")
    ]
    assert sorted(q.column for q in QUESTIONS) == sorted(teacher_columns)
    assert [q.number for q in QUESTIONS] == list(range(1, len(QUESTIONS) + 1))
    by_column = {q.column: q for q in QUESTIONS}
    assert by_column["school_level"].codes() == SCHOOL_LEVELS
    assert by_column["item_07"].options_zh == ("否", "是") and by_column["item_07"].codes() == ("0", "1")
    assert by_column["felt_change"].codes() == ("1", "2", "3", "4", "5")
    assert by_column["focus_on_teaching"].options_zh[-1] == "非常同意"


def test_items_are_the_26_items_of_the_list():
    items = pl.read_csv(SHIPPED_REFERENCE_DIR / "burden_items.csv")
    assert {f"item_{n:02d}" for n in items["item_no"]} == {
        q.column for q in QUESTIONS if q.kind == "choice" and q.column.startswith("item_")
    }


def test_completion_time_estimate_is_under_ten_minutes():
    seconds = estimated_seconds(QUESTIONS)
    assert 240 < seconds < TARGET_SECONDS


def test_a_broken_questionnaire_is_refused(tmp_path):
    text = (SHIPPED_REFERENCE_DIR / "questionnaire.csv").read_text(encoding="utf-8")
    (tmp_path / "renumbered.csv").write_text(text.replace("\n3,hours_total", "\n7,hours_total"), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="row 3"):
        load_questionnaire(tmp_path / "renumbered.csv")
    (tmp_path / "options.csv").write_text(text.replace("小学|初中|高中", "小学|初中"), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="options"):
        load_questionnaire(tmp_path / "options.csv")


def test_html_holds_every_question_and_option_in_both_languages():
    zh, en = questionnaire_html(QUESTIONS, "zh"), questionnaire_html(QUESTIONS, "en")
    for question in QUESTIONS:
        assert f"id='q{question.number}'" in zh and f"id='q{question.number}'" in en
        assert all(o in zh for o in question.options_zh)
    assert "预计用时约" in zh and "minutes" in en


def test_wjx_import_text_gives_back_headers_the_importer_accepts(tmp_path):
    """What 问卷星 makes of the import file (question N titled with its text) reads back as the questionnaire."""
    blocks = wjx_import_text(QUESTIONS).strip().split("\n\n")
    assert len(blocks) == len(QUESTIONS)
    titles = [re.fullmatch(r"(\d+)\. (.*)\[(单选题|填空题)\]", b.split("\n")[0]).groups() for b in blocks]
    assert all(normalise(t) == normalise(q.text_zh) and int(n) == q.number for (n, t, _), q in zip(titles, QUESTIONS))
    assert blocks[1].split("\n")[1:] == ["小学", "初中", "高中"]
    header = ["序号", "提交答卷时间", "所用时间"] + [f"{n}、{t}" for n, t, _ in titles]
    row = ["1", "2026/11/20 10:23:45", "400秒", "1501020001", "小学"] + ["1"] * 15 + ["否"] * 26 + ["3", "4", ""]
    path = tmp_path / "export_2026-11.csv"
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8-sig")
    read = read_landing_file(LandingFile(TEACHER_SURVEY, path, path.name, "x", 1), key=b"k").row(0, named=True)
    assert read["wave"] == "2026-11" and read["item_26"] == "0" and read["focus_on_teaching"] == "4"
    assert read["submitted_at"] == "2026-11-20 10:23:45" and read["seconds_taken"] == "400"


def test_questionnaire_command_writes_three_files(tmp_path, capsys):
    assert main(["questionnaire", "--out", str(tmp_path / "q"), "--data-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == [
        "questionnaire_en.html",
        "questionnaire_wjx.txt",
        "questionnaire_zh.html",
    ]
    assert "minutes" in capsys.readouterr().out


def _export(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode(encoding))
    return path


def test_mapping_check_reports_counts_not_values_and_exits_non_zero_on_errors(tmp_path, capsys):
    data_dir = tmp_path / "data"
    (data_dir / "mappings").mkdir(parents=True)
    (data_dir / "mappings" / "county.yaml").write_text(
        "match: {files: ['county_*']}\nresponse_id: 编号\nsubmitted_at: 时间\n"
        "columns:\n  school_code: 学校\n  school_level: {header: 学段, values: {小学部: primary}}\n"
        "  item_15: {header: 投票点赞, values: {有: 1, 没有: 0}}\n",
        encoding="utf-8",
    )
    good = _export(
        tmp_path / "county_2026-11.csv",
        ["编号", "时间", "学校", "学段", "投票点赞", "姓名", "电话"],
        [
            ["1", "2026-11-02 10:00", "1501020001", "小学部", "有", "王小明", "13912345678"],
            ["2", "2026-11-03 10:00", "1501020001", "初中", "没有", "李红梅", "13800001111"],
        ],
        "gbk",
    )
    assert main(["mapping", "check", str(good), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "-> item_15: mapped (2 coded, 0 not answered)" in out and "column 6: unmapped" in out
    assert "王小明" not in out and "13912345678" not in out and "姓名" not in out

    bad = _export(
        tmp_path / "county_2026-12.csv",
        ["编号", "时间", "学校", "学段", "投票点赞"],
        [["1", "2026-12-02 10:00", "1501020001", "幼儿园", "不清楚"]],
    )
    assert main(["mapping", "check", str(bad), "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert "school_level: 1 unmappable values" in out and "幼儿园" not in out and "不清楚" not in out

    stranger = _export(tmp_path / "other.csv", ["王小明", "13912345678"], [["a", "b"]])
    assert main(["mapping", "check", str(stranger), "--data-dir", str(data_dir)]) == 1
    assert "王小明" not in capsys.readouterr().out

    assert main(["mapping", "check", str(data_dir / "mappings" / "county.yaml"), "--data-dir", str(data_dir)]) == 0
    (data_dir / "mappings" / "broken.yaml").write_text(
        "columns:\n  item_15: {header: x, values: {有: 7}}\nmatch: {files: ['x']}\nsubmitted_at: t\n", encoding="utf-8"
    )
    assert main(["mapping", "check", str(data_dir / "mappings" / "broken.yaml")]) == 1
    assert "codes 7 are not among 0, 1" in capsys.readouterr().out


def test_a_renumbered_export_fails_the_check_naming_the_question(tmp_path, capsys):
    header = ["序号", "提交答卷时间", "所用时间"] + [f"{q.number}、{q.text_zh}" for q in QUESTIONS]
    header[3 + 11], header[3 + 12] = header[3 + 12].replace("13、", "12、"), header[3 + 11].replace("12、", "13、")
    path = _export(tmp_path / "wjx_2026-11.csv", header, [["1", "2026/11/20 10:23:45", "99秒"] + [""] * 46])
    assert main(["mapping", "check", str(path), "--data-dir", str(tmp_path)]) == 1
    assert "question 12 (column 15) does not match" in capsys.readouterr().out
