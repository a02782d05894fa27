-- respondent_quality, last step: the rows excluded for a respondent flag go to quarantine with
-- reason excluded_flag:<kinds> and their landing row (file bookkeeping columns nulled), so that
-- received = accepted + rejected still holds.
-- Bound: $wave, $max_length (the longest reason kept).
insert into quarantine.rejected_rows
select
    'teacher_survey',
    kept.wave,
    kept.source_file,
    kept.source_row,
    left(kept.excluded_flag, $max_length),
    json_merge_patch(
        to_json(landed),
        json_object('file', null, 'row_number', null, 'landing_file', null, 'row_error', null, 'wave_key', null)
    )
from quality.excluded_rows as kept
inner join landing.teacher_survey_rows as landed
    on kept.source_file = landed.file and kept.source_row = landed.row_number
where kept.wave = $wave
