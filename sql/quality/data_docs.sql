-- The waves whose validation results the Data Docs keep: those still in the landing tables.
with waves as (
    select trim(wave) as wave from landing.teacher_survey_rows where wave is not null
    union
    select trim(wave) as wave from landing.school_report_rows where wave is not null
)

select wave from waves order by wave
