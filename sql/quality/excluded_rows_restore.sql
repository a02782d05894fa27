-- respondent_quality, step 1: rows an earlier run excluded for a respondent flag go back into
-- staging before the wave is judged again, when their landing row still exists and neither
-- staging nor a rejection for another reason holds them.
-- Bound: $wave.
insert into staging.teacher_survey_staged by name
select * exclude (excluded_flag)
from quality.excluded_rows as kept
where
    kept.wave = $wave
    and exists (
        select 1
        from landing.teacher_survey_rows as landed
        where landed.file = kept.source_file and landed.row_number = kept.source_row and landed.wave_key = kept.wave
    )
    and not exists (
        select 1
        from staging.teacher_survey_staged as staged
        where staged.wave = kept.wave and staged.source_file = kept.source_file and staged.source_row = kept.source_row
    )
    and not exists (
        select 1
        from quarantine.rejected_rows as rejected
        where
            rejected.source = 'teacher_survey'
            and rejected.file = kept.source_file
            and rejected.row_number = kept.source_row
            and rejected.reason not like 'excluded_flag:%'
    )
