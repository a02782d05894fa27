"""YAML mapping files: any other questionnaire's headers and answer labels onto section 3 columns.

A mapping lives in `$JIANFU_DATA_DIR/mappings/*.yaml` and names, per contract column, the
header(s) that carry it and, for choice questions, the labels that code it. It is data, not
code, so a bureau can bring a new questionnaire in without a script. PyYAML parses it and
difflib's close-match finds headers that differ from the alias only by small edits.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from pipelines.catalogue.questionnaire import Question, by_column, normalise
from pipelines.catalogue.rules import TEACHER_SURVEY, WAVE_PATTERN, contract_columns, rules_for
from pipelines.platforms.convert import (
    ColumnSpec,
    Conversion,
    ConversionError,
    apply_specs,
    choice_spec,
    data_columns,
    wave_from_name,
)
from pipelines.platforms.flags import FLAGS_CONFIG

MAPPING_SUFFIXES = (".yaml", ".yml")
TOP_KEYS = {"name", "match", "wave", "response_id", "submitted_at", "seconds_taken", "columns", "fuzzy", "skip_values"}
DEFAULT_FUZZY = 0.85
"""difflib similarity a header needs to count as an alias's header when not equal to it."""


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file's key, never a landing cell."""


@dataclass(frozen=True)
class Target:
    """One contract column as the mapping file describes it."""

    column: str
    aliases: tuple[str, ...]
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapping:
    path: Path
    name: str
    files: tuple[str, ...]
    headers: tuple[str, ...]
    wave: str
    targets: tuple[Target, ...]
    fuzzy: float
    skip_values: frozenset[str]

    def applies_to(self, file_name: str, headers: list[str]) -> bool:
        """Its file patterns match the name (when given) and its marker headers are present (when given)."""
        if self.files and not any(
            fnmatch.fnmatch(file_name, p) or fnmatch.fnmatch(Path(file_name).name, p) for p in self.files
        ):
            return False
        present = {normalise(h) for h in headers}
        return all(normalise(h) in present for h in self.headers)


def _aliases(key: str, entry) -> tuple[tuple[str, ...], dict]:
    if isinstance(entry, str):
        return (entry,), {}
    if isinstance(entry, list) and entry and all(isinstance(a, str) for a in entry):
        return tuple(entry), {}
    if isinstance(entry, dict):
        unknown = set(entry) - {"header", "headers", "values"}
        if unknown:
            raise MappingError(f"{key}: unknown keys {', '.join(sorted(unknown))}")
        aliases = entry.get("headers") or ([entry["header"]] if "header" in entry else [])
        if not aliases or not all(isinstance(a, str) for a in aliases):
            raise MappingError(f"{key}: give header: or headers: as text")
        values = entry.get("values") or {}
        if not isinstance(values, dict):
            raise MappingError(f"{key}: values must be a table of label: code")
        return tuple(aliases), values
    raise MappingError(f"{key}: expected a header, a list of headers, or header:/values:")


def _allowed_codes(column: str, question: Question | None) -> tuple[str, ...] | None:
    if question is not None and question.kind == "choice":
        return question.codes()
    return None


def parse_mapping(data, path: Path, questions: tuple[Question, ...]) -> Mapping:
    """Validate a parsed YAML document against section 3 and the questionnaire."""
    if not isinstance(data, dict):
        raise MappingError("the file must be a YAML table (key: value lines)")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise MappingError(f"unknown top-level keys: {', '.join(sorted(map(str, unknown)))}")
    match = data.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"files", "headers"}:
        raise MappingError("match: takes files: and/or headers:")
    files, marker_headers = tuple(match.get("files") or ()), tuple(match.get("headers") or ())
    if not all(isinstance(v, str) for v in files + marker_headers):
        raise MappingError("match: files: and headers: are lists of text")
    if not files and not marker_headers:
        raise MappingError("match: needs files: (name patterns) or headers: (headers the file must have)")
    wave = str(data.get("wave", "from_file_name"))
    if wave != "from_file_name" and not re.fullmatch(WAVE_PATTERN, wave):
        raise MappingError("wave: must be from_file_name or a YYYY-MM key")
    columns = data.get("columns") or {}
    if not isinstance(columns, dict) or not columns:
        raise MappingError("columns: must map contract columns to headers")
    allowed = set(contract_columns(TEACHER_SURVEY)) - {"wave", "response_id", "submitted_at", "seconds_taken"}
    questions_by_column = by_column(questions)
    targets = []
    for key in ("response_id", "submitted_at", "seconds_taken"):
        if key in data:
            aliases, _ = _aliases(key, data[key])
            targets.append(Target(key, aliases))
    for column, entry in columns.items():
        if column not in allowed:
            raise MappingError(f"columns: {column} is not a teacher-survey column of the contract")
        aliases, values = _aliases(column, entry)
        codes = _allowed_codes(column, questions_by_column.get(column))
        coded = {str(k): str(v) for k, v in values.items()}
        if values and codes is None:
            raise MappingError(f"{column}: values: only apply to choice questions")
        bad = sorted({v for v in coded.values() if codes and v not in codes})
        if bad:
            assert codes is not None
            raise MappingError(f"{column}: codes {', '.join(bad)} are not among {', '.join(codes)}")
        targets.append(Target(column, aliases, coded))
    if "submitted_at" not in {t.column for t in targets}:
        raise MappingError("submitted_at: is required (the header holding the submission time)")
    fuzzy = float(data.get("fuzzy", DEFAULT_FUZZY))
    if not 0.5 <= fuzzy <= 1.0:
        raise MappingError("fuzzy: must be between 0.5 and 1.0")
    skips = frozenset(normalise(str(s)) for s in data.get("skip_values") or ())
    return Mapping(path, str(data.get("name") or path.stem), files, marker_headers, wave, tuple(targets), fuzzy, skips)


def load_mapping(path: Path, questions: tuple[Question, ...]) -> Mapping:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise MappingError(f"not valid YAML{f' (line {line + 1})' if line is not None else ''}") from None
    except (OSError, UnicodeDecodeError):
        raise MappingError("cannot be read as UTF-8 text") from None
    return parse_mapping(data, Path(path), questions)


def mapping_files(mappings_dir: Path | None) -> list[Path]:
    if mappings_dir is None or not Path(mappings_dir).is_dir():
        return []
    return sorted(
        p
        for p in Path(mappings_dir).iterdir()
        if p.suffix.lower() in MAPPING_SUFFIXES and p.is_file() and p.name != FLAGS_CONFIG
    )


def find_mapping(
    mappings_dir: Path | None, file_name: str, headers: list[str], questions: tuple[Question, ...]
) -> Mapping | None:
    """The one mapping that applies to the file; a broken mapping file is an error only if it might apply."""
    applying = []
    for path in mapping_files(mappings_dir):
        try:
            mapping = load_mapping(path, questions)
        except MappingError as exc:
            raise ConversionError(f"mapping {path.name}: {exc}") from None
        if mapping.applies_to(file_name, headers):
            applying.append(mapping)
    if len(applying) > 1:
        raise ConversionError(f"mappings {', '.join(m.path.name for m in applying)} all apply to this file")
    return applying[0] if applying else None


def resolve_header(aliases: tuple[str, ...], headers: list[str], cutoff: float, taken: set[int]) -> int | None:
    """1-based position of the header an alias names: equal up to punctuation first, then close by difflib."""
    keys = [normalise(h) for h in headers]
    for alias in aliases:
        for position, key in enumerate(keys, start=1):
            if key == normalise(alias) and position not in taken:
                return position
    free = {key: position for position, key in reversed(list(enumerate(keys, start=1))) if position not in taken}
    for alias in aliases:
        close = difflib.get_close_matches(normalise(alias), list(free), n=1, cutoff=cutoff)
        if close:
            return free[close[0]]
    return None


def convert_mapped(raw: pl.DataFrame, mapping: Mapping, file_name: str, questions: tuple[Question, ...]) -> Conversion:
    """Contract columns by the mapping; ConversionError names the mapping key that found no header."""
    label = f"mapping {mapping.path.name}"
    headers = data_columns(raw)
    questions_by_column = by_column(questions)
    kinds = {r.column: r.kind for r in rules_for(TEACHER_SURVEY)}
    taken: set[int] = set()
    specs, id_spec = [], None
    for target in mapping.targets:
        position = resolve_header(target.aliases, headers, mapping.fuzzy, taken)
        if position is None:
            if target.column in ("submitted_at", "school_code", "school_level", "response_id"):
                raise ConversionError(f"{label}: no header matches {target.column}")
            continue
        taken.add(position)
        header = headers[position - 1]
        question = questions_by_column.get(target.column)
        if target.column == "response_id":
            id_spec = ColumnSpec("response_id", position, header, "text")
        elif target.column == "submitted_at":
            specs.append(ColumnSpec("submitted_at", position, header, "timestamp", skips=mapping.skip_values))
        elif target.column == "seconds_taken":
            specs.append(ColumnSpec("seconds_taken", position, header, "duration", skips=mapping.skip_values))
        elif question is not None and question.kind == "choice":
            specs.append(choice_spec(target.column, position, header, question, target.values, mapping.skip_values))
        else:
            kind = "number" if kinds.get(target.column) in ("number", "integer") else "text"
            specs.append(ColumnSpec(target.column, position, header, kind, skips=mapping.skip_values))
    wave = mapping.wave if mapping.wave != "from_file_name" else wave_from_name(file_name)
    if wave is None:
        raise ConversionError(f"{label}: the file name holds no wave (YYYY-MM) and the mapping sets none")
    return apply_specs(raw, specs, {"wave": wave}, id_spec, file_name, "mapping")
