-- quality.excluded_rows for one wave: the staged rows carrying a flag kind the analyst excluded
-- (mappings/respondent_flags.yaml), each with `excluded_flag:<kind>[; <kind>]` in $flag_kinds order,
-- the reason their quarantine row gives.
-- Bound: $wave, $flag_kinds (every kind, in order), $excluded_kinds.
with kinds as (
    select kind.flag, kind.position
    from unnest($flag_kinds::varchar[]) with ordinality as kind (flag, position)
),

chosen as (
    select
        flags.source_file,
        flags.source_row,
        'excluded_flag:' || string_agg(flags.flag, '; ' order by kinds.position) as excluded_flag
    from quality.respondent_flags as flags
    inner join kinds on flags.flag = kinds.flag
    where flags.wave = $wave and list_contains($excluded_kinds::varchar[], flags.flag)
    group by flags.source_file, flags.source_row
)

select staged.*, chosen.excluded_flag
from staging.teacher_survey_staged as staged
inner join chosen on staged.source_file = chosen.source_file and staged.source_row = chosen.source_row
where staged.wave = $wave
