"""`jianfu mapping check`: what the importer would make of a file, without loading anything.

Each column is reported as mapped (to which contract column, with how many answers filled,
skipped and unmappable) or unmapped (dropped, never stored). Counts only: the check prints
no cell, and a header only when it is a platform column, a numbered question or an alias
the mapping names, so a headerless file's first row is never echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.catalogue.questionnaire import load_questionnaire, questionnaire_path
from pipelines.catalogue.rules import NON_METRIC_OPTIONAL_COLUMNS, TEACHER_SURVEY, contract_columns, required_columns
from pipelines.landing.scan import LandingFile, LandingFileError, read_tables
from pipelines.platforms import convert_table
from pipelines.platforms.convert import ConversionError, data_columns
from pipelines.platforms.exports import PLATFORMS, QUESTION_HEADER
from pipelines.platforms.mapping import MAPPING_SUFFIXES, MappingError, load_mapping

KNOWN_HEADERS = {h for p in PLATFORMS for h in p.leading} | {"来源", "来源详情", "来自IP", "IP", "UA", "Referrer"}


@dataclass
class CheckResult:
    lines: list[str] = field(default_factory=list)
    errors: int = 0

    def error(self, line: str) -> None:
        self.lines.append(f"error: {line}")
        self.errors += 1


def _shown(header: str, mapped: bool) -> str:
    visible = mapped or header in KNOWN_HEADERS or QUESTION_HEADER.match(header or "")
    return f" {header[:40]!r}" if visible else ""


def check_mapping_file(path: Path, data_dir: Path | None) -> CheckResult:
    """A mapping file on its own: valid YAML, known contract columns, codes within each question's options."""
    result = CheckResult()
    try:
        mapping = load_mapping(path, load_questionnaire(questionnaire_path(data_dir)))
    except MappingError as exc:
        result.error(f"{path.name}: {exc}")
        return result
    patterns = ", ".join(mapping.files) or "any name"
    result.lines.append(f"{path.name}: mapping {mapping.name!r} for files {patterns}, wave {mapping.wave}")
    for target in mapping.targets:
        coded = f", {len(target.values)} answer labels" if target.values else ""
        result.lines.append(f"  {target.column} <- {' | '.join(target.aliases)}{coded}")
    return result


def check_export(path: Path, data_dir: Path | None) -> CheckResult:
    """A landing file as the importer would read it; errors are what would quarantine rows or the file."""
    result = CheckResult()
    mappings_dir = data_dir / "mappings" if data_dir else None
    file = LandingFile(TEACHER_SURVEY, path, path.name, "", path.stat().st_size)
    try:
        tables = read_tables(file)
    except LandingFileError as exc:
        result.error(f"{path.name}: {exc}")
        return result
    for index, table in enumerate(tables, start=1):
        name = path.name if len(tables) == 1 else f"{path.name} sheet {index}"
        raw = table.frame
        try:
            conversion = convert_table(raw, path.name, TEACHER_SURVEY, mappings_dir)
        except ConversionError as exc:
            result.error(f"{name}: {exc}")
            continue
        if conversion is None:
            _check_contract_table(result, name, data_columns(raw), raw.height)
            continue
        kind = {
            "wjx": "问卷星 (Wenjuanxing) export",
            "tencent": "腾讯问卷 (Tencent Survey) export",
            "mapping": "mapped questionnaire",
        }[conversion.kind]
        waves = sorted(set(conversion.frame["wave"].drop_nulls().to_list()))
        result.lines.append(f"{name}: {kind}, {raw.height} rows, wave {', '.join(waves) or 'none'}")
        for column in conversion.columns:
            label = f"  column {column.position}{_shown(column.header, column.target is not None)}"
            if column.target is None:
                result.lines.append(f"{label}: unmapped (dropped, never stored)")
            elif column.unmappable:
                result.error(
                    f"{label.strip()} -> {column.target}: {column.unmappable} unmappable values "
                    f"({column.filled} coded, {column.skipped} not answered)"
                )
            else:
                result.lines.append(
                    f"{label} -> {column.target}: mapped ({column.filled} coded, {column.skipped} not answered)"
                )
        _check_missing(result, set(conversion.frame.columns))
    return result


def _check_contract_table(result: CheckResult, name: str, headers: list[str], rows: int) -> None:
    wanted = set(contract_columns(TEACHER_SURVEY))
    keys = [re.sub(r"\s+", "", h.replace("\ufeff", "")).lower() for h in headers]
    found = {k for k in keys if k in wanted}
    if not found:
        result.error(
            f"{name}: not a 问卷星 or 腾讯问卷 export, no mapping in mappings/ applies, "
            "and no header is a contract column"
        )
        return
    result.lines.append(f"{name}: contract-format table, {rows} rows")
    for position, key in enumerate(keys, start=1):
        state = f"-> {key}: mapped" if key in wanted else "unmapped (dropped, never stored)"
        result.lines.append(f"  column {position}{_shown(key, key in wanted)} {state}")
    _check_missing(result, found)


def _check_missing(result: CheckResult, present: set[str]) -> None:
    missing_required = [c for c in required_columns(TEACHER_SURVEY) if c not in present]
    if missing_required:
        result.error(f"required columns not found: {', '.join(missing_required)}")
    optional = [
        c
        for c in contract_columns(TEACHER_SURVEY)
        if c not in present and c not in required_columns(TEACHER_SURVEY) and c not in NON_METRIC_OPTIONAL_COLUMNS
    ]
    if optional:
        result.lines.append(f"  not collected (reports show these as not collected): {', '.join(optional)}")


def check(path: Path, data_dir: Path | None) -> CheckResult:
    if path.suffix.lower() in MAPPING_SUFFIXES:
        return check_mapping_file(path, data_dir)
    return check_export(path, data_dir)
