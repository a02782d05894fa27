"""问卷星 / 腾讯问卷 exports and YAML mappings, built by hand, through the real pipeline."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from conftest import query, write_table

from pipelines.catalogue.questionnaire import load_questionnaire
from pipelines.catalogue.rules import TEACHER_SURVEY, contract_columns
from pipelines.landing.scan import LandingFile, LandingFileError, read_landing_file
from pipelines.platforms.convert import duration_seconds, timestamp_text, wave_from_name

QUESTIONS = load_questionnaire()
PII = ("王小明", "13912345678", "10.1.2.3", "李红梅", "13800001111", "希望少开会")
WJX_LEAD = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
TENCENT_LEAD = ["编号", "开始答题时间", "结束答题时间", "答题时长"]
TENCENT_TAIL = [
    "地理位置国家和地区",
    "地理位置省",
    "地理位置市",
    "用户类型",
    "用户标识",
    "昵称",
    "自定义字段",
    "IP",
    "UA",
]


def answers(seed: int) -> dict[str, str]:
    """One teacher's answers as contract codes; seed varies them; blank = not answered."""
    row = {
        "school_code": ["1501020001", "1501020002", "1502030001"][seed % 3],
        "school_level": ["primary", "junior", "primary"][seed % 3],
        "hours_total": str(45 + seed),
        "hours_teaching": "15",
        "hours_teaching_related": str(18 + seed % 4),
        "hours_cat1": "2",
        "hours_cat2": "1.5",
        "hours_cat3": str(seed % 5),
        "hours_cat4": "0",
        "hours_cat5": "1",
        "n_inspections": str(seed % 4),
        "n_forms": "6",
        "n_app_tasks": str(seed % 3),
        "n_nonteaching_meetings": "2",
        "n_invigilations": "0",
        "days_seconded": "0",
        "training_hours_nonteaching": "4",
        "felt_change": str(1 + seed % 5),
        "focus_on_teaching": str(1 + (seed * 2) % 5),
        "teacher_id": "",
    }
    row.update({f"item_{i:02d}": str((seed + i) % 2) for i in range(1, 27)})
    if seed % 4 == 0:
        row["item_05"] = ""
        row["hours_cat5"] = ""
    return row


def platform_value(column: str, code: str, style: str, seed: int) -> str:
    """The cell a platform writes for a contract code: option text or option number, skip markers for blanks."""
    question = next(q for q in QUESTIONS if q.column == column)
    if code == "":
        return ["(跳过)", "(空)", "-2", "-3", ""][seed % 5]
    if question.kind != "choice":
        return code
    index = question.codes().index(code)
    return question.options_zh[index] if style == "text" else str(index + 1)


def wjx_rows(seeds: list[int], style: str, questions=QUESTIONS) -> list[list[str]]:
    header = (
        WJX_LEAD + [f"{q.number}{'、．.'[q.number % 3]}{q.text_zh}" for q in questions] + ["47、您的姓名", "联系电话"]
    )
    rows = [header]
    for n, seed in enumerate(seeds, start=1):
        code = answers(seed)
        rows.append(
            [
                str(n),
                f"2024/5/{10 + n} 09:0{n % 10}:1{n % 10}",
                f"{300 + seed}秒",
                "微信",
                "N/A",
                "10.1.2.3(内蒙古-呼和浩特)",
                *[platform_value(q.column, code[q.column], style, seed) for q in questions],
                "王小明" if n % 2 else "李红梅",
                "13912345678" if n % 2 else "13800001111",
            ]
        )
    return rows


def tencent_rows(seeds: list[int]) -> list[list[str]]:
    header = TENCENT_LEAD + [f"{q.number}.{q.text_zh}" for q in QUESTIONS] + ["47.备注"] + TENCENT_TAIL
    rows = [header]
    for n, seed in enumerate(seeds, start=1):
        code = answers(seed)
        rows.append(
            [
                str(100 + n),
                f"2024/5/{10 + n} 08:55",
                f"2024/5/{10 + n} 09:01",
                str(360 + seed),
                *[platform_value(q.column, code[q.column], "text", seed) for q in QUESTIONS],
                "希望少开会",
                "中国",
                "内蒙古",
                "呼和浩特",
                "微信用户",
                "oAbc123",
                "王小明",
                "",
                "10.1.2.3",
                "Mozilla/5.0",
            ]
        )
    return rows


def write_rows(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append([int(v) if v.isdigit() and len(v) < 6 else v for v in row])
        book.save(path)
    else:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def contract_rows(
    file_name: str,
    ids: list[str],
    seeds: list[int],
    seconds: list[int],
    days: list[int],
    times: list[str] | None = None,
) -> list[dict[str, str]]:
    """The contract-format rows that an export is expected to become."""
    out = []
    for n, (rid, seed) in enumerate(zip(ids, seeds), start=1):
        row = dict.fromkeys(contract_columns(TEACHER_SURVEY), "")
        row.update(
            answers(seed),
            wave="2024-05",
            response_id=f"{file_name}:{rid}",
            submitted_at=(times[n - 1] if times else f"2024-05-{days[n - 1]:02d} 09:0{n % 10}:1{n % 10}"),
            seconds_taken=str(seconds[n - 1]),
        )
        out.append(row)
    return out


MAPPING_YAML = """\
name: 某旗县自编教师负担问卷
match:
  files: ["county_*.csv"]
wave: from_file_name
response_id: 答卷编号
submitted_at: 提交时间
columns:
  school_code: 学校编号
  school_level:
    header: 学段
    values: {小学部: primary, 初中部: junior, 高中部: senior}
  hours_total: [每周工作总小时, 周工作时长]
  felt_change: 负担变化
  item_15:
    header: 是否被要求APP投票点赞
    values: {有: 1, 没有: 0}
skip_values: [未作答]
"""


def county_rows() -> list[list[str]]:
    return [
        ["答卷编号", "提交时间", "学校编号", "学段", "每周工作总小时。", "负担变化", "是否被要求APP投票点赞", "姓名"],
        ["A1", "2024-05-20 10:00:00", "1501020001", "小学部", "50", "明显减轻", "有", "王小明"],
        ["A2", "2024-05-21 10:00:00", "1501020002", "初中部", "未作答", "2", "没有", "李红梅"],
        ["A3", "2024-05-22 10:00:00", "1502030001", "小学部", "47", "有所减轻", "不知道", "王小明"],
    ]


def county_contract_rows() -> list[dict[str, str]]:
    out = []
    for rid, when, school, level, hours, felt, item in [
        ("A1", "2024-05-20 10:00:00", "1501020001", "primary", "50", "5", "1"),
        ("A2", "2024-05-21 10:00:00", "1501020002", "junior", "", "2", "0"),
    ]:
        row = dict.fromkeys(contract_columns(TEACHER_SURVEY), "")
        row.update(
            wave="2024-05",
            response_id=f"county_2024-05.csv:{rid}",
            submitted_at=when,
            school_code=school,
            school_level=level,
            hours_total=hours,
            felt_change=felt,
            item_15=item,
        )
        out.append(row)
    return out


WJX_TEXT_SEEDS, WJX_NUMBER_SEEDS, XLSX_SEEDS, TENCENT_SEEDS = [0, 1, 2, 3, 4, 5], [6, 7, 8, 9], [10, 11, 12], [13, 14]


def write_exports(folder: Path) -> None:
    write_rows(folder / "wjx_text_2024-05.csv", wjx_rows(WJX_TEXT_SEEDS, "text"), "utf-8-sig")
    write_rows(folder / "wjx_number_2024-05.csv", wjx_rows(WJX_NUMBER_SEEDS, "number"), "gb18030")
    write_rows(folder / "wjx_2024-05.xlsx", wjx_rows(XLSX_SEEDS, "text"))
    write_rows(folder / "tencent_2024-05.csv", tencent_rows(TENCENT_SEEDS), "utf-8")
    write_rows(folder / "county_2024-05.csv", county_rows(), "gbk")
    renumbered = list(QUESTIONS)
    renumbered[4], renumbered[5] = renumbered[5], renumbered[4]
    header = wjx_rows([0], "text")
    header[0][6 + 4], header[0][6 + 5] = f"5、{QUESTIONS[5].text_zh}", f"6、{QUESTIONS[4].text_zh}"
    write_rows(folder / "wjx_renumbered_2024-05.csv", header)
    write_rows(folder / "wjx_no_wave.csv", wjx_rows([1], "text"))


def write_equivalent(folder: Path) -> None:
    rows = contract_rows(
        "wjx_text_2024-05.csv",
        ["1", "2", "3", "4", "5", "6"],
        WJX_TEXT_SEEDS,
        [300 + s for s in WJX_TEXT_SEEDS],
        [11, 12, 13, 14, 15, 16],
    )
    rows += contract_rows(
        "wjx_number_2024-05.csv",
        ["1", "2", "3", "4"],
        WJX_NUMBER_SEEDS,
        [300 + s for s in WJX_NUMBER_SEEDS],
        [11, 12, 13, 14],
    )
    rows += contract_rows("wjx_2024-05.xlsx", ["1", "2", "3"], XLSX_SEEDS, [300 + s for s in XLSX_SEEDS], [11, 12, 13])
    rows += contract_rows(
        "tencent_2024-05.csv",
        ["101", "102"],
        TENCENT_SEEDS,
        [360 + s for s in TENCENT_SEEDS],
        [11, 12],
        ["2024-05-11 09:01:00", "2024-05-12 09:01:00"],
    )
    rows += county_contract_rows()
    write_table(folder / "contract.csv", rows)


STAGED = "select * exclude (source_file, source_row) from staging.teacher_survey_staged order by response_id"
METRICS = "select * from marts.area_metrics order by all"


def test_exports_give_exactly_what_the_contract_file_gives(data_dir, run, tmp_path, capsys):
    write_exports(data_dir / "landing" / "teacher_survey")
    (data_dir / "mappings").mkdir()
    (data_dir / "mappings" / "county.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    twin = tmp_path / "twin"
    for sub in ("reference", "landing/school_report"):
        (twin / sub).mkdir(parents=True)
    for name in ("schools.csv", "teacher_population.csv"):
        (twin / "reference" / name).write_bytes((data_dir / "reference" / name).read_bytes())
    write_equivalent(twin / "landing" / "teacher_survey")
    run(data_dir)
    run(twin)

    rejected_files = dict(query(data_dir, "select file, reason from quarantine.rejected_files"))
    assert set(rejected_files) == {"wjx_renumbered_2024-05.csv", "wjx_no_wave.csv"}
    assert (
        "question 5 (column 11) does not match questionnaire question 5" in rejected_files["wjx_renumbered_2024-05.csv"]
    )
    assert "reads like question 6" in rejected_files["wjx_renumbered_2024-05.csv"]
    assert "no wave" in rejected_files["wjx_no_wave.csv"]
    assert all(len(r) <= 200 for r in rejected_files.values())

    staged = query(data_dir, STAGED)
    assert len(staged) == 6 + 4 + 3 + 2 + 2
    assert staged == query(twin, STAGED)
    assert query(data_dir, METRICS) == query(twin, METRICS)
    assert query(
        data_dir,
        "select response_id, seconds_taken, submitted_at::varchar from staging.teacher_survey_staged "
        "where response_id like 'wjx_text%' order by 1 limit 2",
    ) == [
        ("wjx_text_2024-05.csv:1", 300, "2024-05-11 09:01:11"),
        ("wjx_text_2024-05.csv:2", 301, "2024-05-12 09:02:12"),
    ]
    assert query(
        data_dir,
        "select item_05, hours_cat5, item_06, felt_change, school_level from "
        "staging.teacher_survey_staged where response_id = 'wjx_number_2024-05.csv:3'",
    ) == [(None, None, 0, 4, "primary")]
    assert query(
        data_dir, "select reason, row_number from quarantine.rejected_rows where file = 'county_2024-05.csv'"
    ) == [("malformed:item_15", 3)]
    quality = query(
        data_dir,
        "select rows_received, rows_accepted, rows_rejected from marts.data_quality "
        "where source = 'teacher_survey' and wave = '2024-05'",
    )
    assert quality == [(18, 17, 1)]

    tables = query(
        data_dir, "select table_schema, table_name from information_schema.tables where table_catalog = 'warehouse'"
    )
    for schema, table in tables:
        for (value,) in query(data_dir, f"select to_json(t)::varchar from {schema}.{table} as t"):
            assert not any(p in value for p in PII), f"{schema}.{table}"
    stored = (data_dir / "warehouse.duckdb").read_bytes()
    assert not any(p.encode("utf-8") in stored or p.encode("gb18030") in stored for p in PII)
    for page in (data_dir / "reports").rglob("*"):
        if page.is_file() and page.suffix in (".html", ".json", ".js", ".csv"):
            text = page.read_text(encoding="utf-8", errors="ignore")
            assert not any(p in text for p in PII), page
    out = capsys.readouterr()
    assert not any(p in out.out + out.err for p in PII)


def _landing(path: Path) -> LandingFile:
    return LandingFile(TEACHER_SURVEY, path, path.name, "x", path.stat().st_size)


def test_skip_markers_durations_and_timestamps():
    assert duration_seconds("123秒") == "123" and duration_seconds("2分3秒") == "123"
    assert duration_seconds("1小时2分") == "3720" and duration_seconds("95") == "95"
    assert timestamp_text("2026/11/20 10:23:45") == "2026-11-20 10:23:45"
    assert timestamp_text("2026/5/26 12:00") == "2026-05-26 12:00:00"
    assert wave_from_name("问卷星_教师负担_2026-11_导出.xlsx") == "2026-11"
    assert wave_from_name("export_202611.csv") is None


def test_platform_reader_drops_personal_and_system_columns(tmp_path):
    path = write_rows(tmp_path / "wjx_2024-05.csv", wjx_rows([0, 4], "text"))
    frame = read_landing_file(_landing(path), key=b"k")
    assert frame.columns[4:] == contract_columns(TEACHER_SURVEY)
    text = json.dumps(frame.to_dicts(), ensure_ascii=False)
    assert not any(p in text for p in PII) and "微信" not in text
    first = frame.row(0, named=True)
    assert first["response_id"] == "wjx_2024-05.csv:1" and first["seconds_taken"] == "300"
    assert first["item_05"] is None and first["school_level"] == "primary"


def test_renumbered_question_is_rejected_naming_the_question_not_quoting_the_file(tmp_path):
    rows = wjx_rows([0], "text")
    rows[0][6 + 9] = "10、本轮期间王小明填写非教学表格的份数"
    path = write_rows(tmp_path / "t_2024-05.csv", rows)
    with pytest.raises(LandingFileError) as caught:
        read_landing_file(_landing(path), key=b"k")
    reason = str(caught.value)
    assert "question 10" in reason and "王小明" not in reason and "表格" not in reason and len(reason) <= 200


def test_unmappable_option_makes_the_row_malformed_not_a_wrong_code(tmp_path):
    rows = wjx_rows([1], "text")
    rows[1][6 + 1] = "幼儿园"
    rows[1][6 + 45] = "T9"
    path = write_rows(tmp_path / "t_2024-05.csv", rows)
    frame = read_landing_file(_landing(path), key=b"k")
    assert frame["school_level"].to_list() == ["#NO_CACHED_VALUE!"]
    assert frame["teacher_id"].to_list() != ["T9"]


def test_tencent_export_is_recognised(tmp_path):
    path = write_rows(tmp_path / "tencent_2024-05.csv", tencent_rows([3]), "gbk")
    row = read_landing_file(_landing(path), key=b"k").row(0, named=True)
    assert row["response_id"] == "tencent_2024-05.csv:101" and row["seconds_taken"] == "363"
    assert row["submitted_at"] == "2024-05-11 09:01:00" and row["felt_change"] == "4"


def test_contract_files_are_left_to_the_contract_reader(tmp_path):
    path = write_table(tmp_path / "plain.csv", contract_rows("x", ["1"], [0], [1], [11]))
    assert read_landing_file(_landing(path), key=b"k")["response_id"].to_list() == ["x:1"]
    assert pl.read_csv(path).height == 1


def test_generated_wjx_sample_runs_the_platform_path_and_is_flagged(tmp_path, run):
    from pipelines.synthetic.generate import generate

    data_dir = tmp_path / "wjx"
    manifest = generate(data_dir, teachers=300, waves=2, seed=7, style="wjx")
    folder = data_dir / "landing" / "teacher_survey"
    assert manifest["style"] == "wjx" and (folder / "late_submissions_2026-11.csv").is_file()
    assert next(iter(folder.glob("teacher_survey_2026-05.*"))).read_bytes()[:20].decode("utf-8", "ignore") != "wave"
    run(data_dir)
    planted = {
        (d["file"], d["row_number"]): d["reason"] for d in manifest["dirty_rows"] if d["source"] == "teacher_survey"
    }
    rejected = {
        (f.split("#")[0], n): r
        for f, n, r in query(
            data_dir, "select file, row_number, reason from quarantine.rejected_rows where source = 'teacher_survey'"
        )
    }
    assert rejected == planted and planted
    flags = dict(query(data_dir, "select flag, sum(rows_flagged) from marts.respondent_quality group by 1"))
    assert set(flags) == {"speeder", "straight_lining", "duplicate_submission"}
    assert flags["speeder"] > 0 and flags["duplicate_submission"] >= 1
    accepted = query(data_dir, "select count(*) from staging.teacher_survey_staged")[0][0]
    quality = query(
        data_dir,
        "select sum(rows_received), sum(rows_accepted), sum(rows_rejected) "
        "from marts.data_quality where source = 'teacher_survey'",
    )[0]
    assert quality[0] == quality[1] + quality[2] and quality[1] == accepted
    page = (data_dir / "reports").rglob("quality.html")
    assert any("过快作答" in p.read_text(encoding="utf-8") for p in page)
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged where seconds_taken is null") == [(0,)]
    n_before = query(
        data_dir, "select sum(n) from marts.area_metrics where area_level = 'region' and metric = 'hours_total'"
    )[0][0]

    config = data_dir / "mappings" / "respondent_flags.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text("exclude: [speeder]\n", encoding="utf-8")
    run(data_dir)
    removed = query(data_dir, "select sum(rows_excluded) from marts.respondent_quality")[0][0]
    assert removed == flags["speeder"]
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged")[0][0] == accepted - removed
    assert (
        query(data_dir, "select count(*) from quarantine.rejected_rows where reason = 'excluded_flag:speeder'")[0][0]
        == removed
    )
    assert (
        query(data_dir, "select sum(n) from marts.area_metrics where area_level = 'region' and metric = 'hours_total'")[
            0
        ][0]
        == n_before - removed
    )
    again = query(
        data_dir,
        "select sum(rows_received), sum(rows_accepted), sum(rows_rejected) "
        "from marts.data_quality where source = 'teacher_survey'",
    )[0]
    assert again[0] == quality[0] == again[1] + again[2] and again[2] == quality[2] + removed
    per_wave = query(data_dir, "select wave, sum(rows_excluded) from marts.respondent_quality group by 1")
    pages = " ".join(p.read_text(encoding="utf-8") for p in (data_dir / "reports").rglob("quality.html"))
    assert all(f"本轮共有 {n} 份答卷因“过快作答”标记从全部估计值中排除" in pages for _, n in per_wave if n)

    config.unlink()
    run(data_dir)
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged")[0][0] == accepted
    assert query(data_dir, "select count(*) from quarantine.rejected_rows where reason like 'excluded%'") == [(0,)]


def test_generate_style_wjx_from_the_command_line(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["generate", "--out", str(tmp_path / "g"), "--style", "wjx", "--teachers", "40", "--waves", "1"]) == 0
    folder = tmp_path / "g" / "landing" / "teacher_survey"
    export = next(p for p in sorted(folder.iterdir()) if p.name.startswith("teacher_survey_2026-11"))
    frame = read_landing_file(_landing(export), key=b"k")
    assert frame["response_id"][0] == f"{export.name}:1" and frame["seconds_taken"].drop_nulls().len() > 0
    assert json.loads((tmp_path / "g" / "manifest.json").read_text(encoding="utf-8"))["style"] == "wjx"


def test_mapping_finds_near_headers_and_a_broken_mapping_rejects_with_its_name(tmp_path):
    mappings = tmp_path / "data" / "mappings"
    mappings.mkdir(parents=True)
    (mappings / "county.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    rows = county_rows()
    rows[0][4] = "每周工作总小时数"
    path = write_rows(tmp_path / "county_2024-05.csv", rows, "utf-8")
    file = _landing(path)
    frame = read_landing_file(file, key=b"k", mappings_dir=mappings)
    assert frame["hours_total"].to_list() == ["50", None, "47"]
    assert frame["response_id"].to_list() == [f"county_2024-05.csv:A{i}" for i in (1, 2, 3)]
    (mappings / "county.yaml").write_text(
        MAPPING_YAML.replace("felt_change: 负担变化", "felt_chang: 负担变化"), encoding="utf-8"
    )
    with pytest.raises(LandingFileError, match=r"mapping county\.yaml: columns: felt_chang is not"):
        read_landing_file(file, key=b"k", mappings_dir=mappings)


def test_straight_lining_needs_the_same_option_position_in_both_blocks(tmp_path):
    from helpers import flag_wave, oracle_straight_lining

    def row(k: int, item: int | None, felt: int, focus: int) -> dict:
        return {
            **{f"item_{i:02d}": item for i in range(1, 27)},
            "felt_change": felt,
            "focus_on_teaching": focus,
            "wave": "2026-05",
            "response_id": f"r{k}",
            "school_code": f"15010200{k:02d}",
            "source_file": "f.csv",
            "source_row": k,
        }

    frame = pl.DataFrame(
        [row(0, 0, 1, 1), row(1, 1, 5, 5), row(2, 0, 3, 3), row(3, 0, 1, 2), {**row(4, 0, 1, 1), "item_03": 1}]
    )
    assert oracle_straight_lining(frame).to_list() == [True, True, False, False, False]
    flags, *_ = flag_wave(tmp_path, frame, QUESTIONS)
    assert set(flags.filter(pl.col("flag") == "straight_lining")["response_id"]) == {"r0", "r1"}
