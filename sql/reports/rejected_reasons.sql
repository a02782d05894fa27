-- Rejected rows counted by source, wave and reason ('kind:column' split in two). Only the
-- counts leave the quarantine: never raw_json, file row numbers or any value of a row.
-- A wave that is not one of the warehouse's waves (missing or malformed) becomes NULL.
with known_waves as (
    select distinct wave from staging.teacher_survey_staged
    union
    select distinct wave from staging.school_report_staged
)

select
    rejected.source,
    known_waves.wave,
    split_part(rejected.reason, ':', 1) as kind,
    nullif(split_part(rejected.reason, ':', 2), '') as column_name,
    count(*) as rows_rejected
from quarantine.rejected_rows as rejected
left join known_waves on known_waves.wave = rejected.wave
group by all
order by known_waves.wave nulls first, rejected.source, rows_rejected desc, kind, column_name
