"""Survey-platform exports (问卷星, 腾讯问卷) and mapped questionnaires onto contract columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.catalogue.questionnaire import QuestionnaireError, load_questionnaire, questionnaire_path
from pipelines.catalogue.rules import TEACHER_SURVEY
from pipelines.platforms.convert import Conversion, ConversionError, data_columns
from pipelines.platforms.exports import convert_platform, detect_platform
from pipelines.platforms.mapping import convert_mapped, find_mapping


def convert_table(raw: pl.DataFrame, file_name: str, source: str, mappings_dir: Path | None) -> Conversion | None:
    """The conversion of a recognised export (a mapping first, then a platform); None otherwise."""
    if source != TEACHER_SURVEY:
        return None
    headers = data_columns(raw)
    data_dir = Path(mappings_dir).parent if mappings_dir is not None else None
    try:
        questions = load_questionnaire(questionnaire_path(data_dir))
    except (QuestionnaireError, OSError) as exc:
        raise ConversionError(f"questionnaire.csv is unusable: {exc}") from None
    mapping = find_mapping(mappings_dir, file_name, headers, questions)
    if mapping is not None:
        return convert_mapped(raw, mapping, file_name, questions)
    platform = detect_platform(headers)
    if platform is not None:
        return convert_platform(raw, platform, file_name, questions)
    return None


def convert_export(raw: pl.DataFrame, file_name: str, source: str, mappings_dir: Path | None) -> pl.DataFrame | None:
    """Contract columns from a recognised export; None for a contract-format table."""
    from pipelines.landing.scan import LandingFileError

    try:
        conversion = convert_table(raw, file_name, source, mappings_dir)
    except ConversionError as exc:
        raise LandingFileError(str(exc)) from None
    return None if conversion is None else conversion.frame
