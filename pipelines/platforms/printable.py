"""The questionnaire a bureau publishes: printable HTML (zh, en) and a 问卷星 text-import file.

All three are written from questionnaire.csv, so what teachers answer is exactly what the
importer expects back; the question texts are the headers the 问卷星 export will carry.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from pipelines.catalogue.questionnaire import (
    ANSWER_SECONDS,
    READ_CHARS_PER_SECOND,
    TARGET_SECONDS,
    Question,
    estimated_seconds,
)

SECTIONS = {
    "about": ("基本信息", "About you"),
    "hours": ("本周工作时间（请按本周实际情况填写，单位：小时）", "Working hours this week (actual hours this week)"),
    "counts": ("本轮调查期间的次数和天数", "Counts and days during this survey round"),
    "items": (
        "本轮调查期间，您是否遇到以下情况？",
        "During this survey round, did you experience any of the following?",
    ),
    "feelings": ("您的感受", "How it feels"),
    "other": ("其他", "Other"),
}
WJX_TYPES = {"choice": "单选题", "number": "填空题", "text": "填空题"}


def section_of(question: Question) -> str:
    column = question.column
    if column in ("school_code", "school_level"):
        return "about"
    if column.startswith("hours_"):
        return "hours"
    if column.startswith("item_"):
        return "items"
    if column in ("felt_change", "focus_on_teaching"):
        return "feelings"
    if column.startswith("n_") or column in ("days_seconded", "training_hours_nonteaching"):
        return "counts"
    return "other"


def minutes(questions: tuple[Question, ...]) -> int:
    return math.ceil(estimated_seconds(questions) / 60)


def estimate_note(questions: tuple[Question, ...], lang: str) -> str:
    """The estimate and how it is made, in one sentence."""
    n, total = len(questions), minutes(questions)
    seconds = ANSWER_SECONDS
    if lang == "zh":
        return (
            f"共 {n} 题，预计用时约 {total} 分钟（按每秒阅读 {READ_CHARS_PER_SECOND:g} 个汉字，"
            f"选择题 {seconds['choice']:g} 秒、数字题 {seconds['number']:g} 秒、填写题 {seconds['text']:g} 秒作答估算；"
            f"目标不超过 {TARGET_SECONDS // 60} 分钟）。"
        )
    return (
        f"{n} questions, about {total} minutes (reading {READ_CHARS_PER_SECOND:g} Chinese characters a second, "
        f"answering a choice in {seconds['choice']:g} s, a figure in {seconds['number']:g} s, a text in "
        f"{seconds['text']:g} s; the target is under {TARGET_SECONDS // 60} minutes)."
    )


def _answer_html(question: Question, lang: str) -> str:
    options = question.options_zh if lang == "zh" else question.options_en
    if question.kind == "choice":
        return "<ul class='options'>" + "".join(f"<li>☐ {html.escape(o)}</li>" for o in options) + "</ul>"
    return "<div class='blank'>______________________</div>"


def questionnaire_html(questions: tuple[Question, ...], lang: str) -> str:
    title = "中小学教师负担监测问卷" if lang == "zh" else "Teacher burden monitoring questionnaire"
    intro = (
        "本问卷不记姓名，用于监测减负清单落实情况，结果只以汇总形式发布。"
        if lang == "zh"
        else "This questionnaire asks no name; it monitors the burden-reduction list and is published only "
        "as aggregates."
    )
    parts = [
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}"
        "h2{border-bottom:1px solid #999;margin-top:1.6em}.q{margin:.8em 0;break-inside:avoid}"
        ".options{list-style:none;padding-left:1.5em;margin:.2em 0}.options li{display:inline-block;"
        "margin-right:1.5em}.blank{padding-left:1.5em}.note{color:#444}</style></head><body>",
        f"<h1>{title}</h1><p>{intro}</p><p class='note'>{html.escape(estimate_note(questions, lang))}</p>",
    ]
    current = None
    for question in questions:
        section = section_of(question)
        if section != current:
            heading = SECTIONS[section][0 if lang == "zh" else 1]
            parts.append(f"<h2>{html.escape(heading)}</h2>")
            current = section
        text = question.text_zh if lang == "zh" else question.text_en
        parts.append(
            f"<div class='q' id='q{question.number}'><b>{question.number}.</b> {html.escape(text)}"
            f"{_answer_html(question, lang)}</div>"
        )
    parts.append("</body></html>\n")
    return "".join(parts)


def wjx_import_text(questions: tuple[Question, ...]) -> str:
    """问卷星 text import (批量添加题目): `N. 题目[题型]`, one option a line, a blank line between questions."""
    blocks = []
    for question in questions:
        lines = [f"{question.number}. {question.text_zh}[{WJX_TYPES[question.kind]}]"]
        lines += list(question.options_zh)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_questionnaire(questions: tuple[Question, ...], out: Path) -> list[Path]:
    """questionnaire_zh.html, questionnaire_en.html and questionnaire_wjx.txt under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in ("zh", "en"):
        path = out / f"questionnaire_{lang}.html"
        path.write_text(questionnaire_html(questions, lang), encoding="utf-8")
        written.append(path)
    path = out / "questionnaire_wjx.txt"
    path.write_text(wjx_import_text(questions), encoding="utf-8")
    written.append(path)
    return written
