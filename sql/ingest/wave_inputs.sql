-- One digest per wave of the landing files (source, name, content hash, and the reader version
-- that read them: a changed mapping or questionnaire re-reads them) that hold its rows; the
-- runner appends the shared context (code, reference files, settings) and compares the whole
-- with meta.wave_state's to decide which waves to restage.
with contributions as (
    select distinct
        'teacher_survey' as source,
        wave_key,
        landing_file
    from landing.teacher_survey_rows
    where wave_key is not null
    union all
    select distinct
        'school_report' as source,
        wave_key,
        landing_file
    from landing.school_report_rows
    where wave_key is not null
),

hashed as (
    select
        contributions.wave_key as wave,
        contributions.source || '/' || contributions.landing_file || '@' || files.sha256
        || '@' || coalesce(files.reader_version, '') as part
    from contributions
    inner join landing.files as files
        on contributions.source = files.source and contributions.landing_file = files.file
),

final as (
    select
        wave,
        sha256(string_agg(part, '|' order by part)) as digest
    from hashed
    group by wave
)

select
    wave,
    digest
from final
order by wave
