-- marts.data_quality: per wave and source, where every landing row went, and how many
-- schools sent something. Rows that belong to no wave (missing, malformed or future wave)
-- form a wave-null row. Campus events are dated, not waved: all their rows form one
-- wave-null row of their own (source campus_event).
-- For school reports, schools_on_time and on_time_share are the region row of
-- marts.reporting_completeness (sql/marts/reporting_completeness.sql defines "on time").
with landed as (
    select 'teacher_survey' as source, wave_key as wave from landing.teacher_survey_rows
    union all
    select 'school_report' as source, wave_key as wave from landing.school_report_rows
    union all
    select 'campus_event' as source, null as wave from landing.campus_event_rows
),

received as (
    select source, wave, count(*) as rows_received
    from landed
    group by all
),

accepted as (
    select 'teacher_survey' as source, wave, count(*) as rows_accepted,
           count(distinct school_code) as schools_reporting
    from staging.teacher_survey_staged
    group by all
    union all
    select 'school_report' as source, wave, count(*) as rows_accepted,
           count(distinct school_code) as schools_reporting
    from staging.school_report_staged
    group by all
    union all
    select 'campus_event' as source, null as wave, count(*) as rows_accepted,
           count(distinct school_code) as schools_reporting
    from staging.campus_event_staged
),

rejected as (
    select source, case when source <> 'campus_event' then wave end as wave, count(*) as rows_rejected
    from quarantine.rejected_rows
    group by all
),

expected as (
    select count(*) as schools_expected
    from ref.schools
),

timeliness as (
    select 'school_report' as source, wave, schools_on_time, on_time_share
    from marts.reporting_completeness
    where area_level = 'region'
),

final as (
    select
        received.wave,
        received.source,
        received.rows_received,
        coalesce(accepted.rows_accepted, 0) as rows_accepted,
        coalesce(rejected.rows_rejected, 0) as rows_rejected,
        case when received.wave is not null then expected.schools_expected end as schools_expected,
        case when received.wave is not null then coalesce(accepted.schools_reporting, 0) end as schools_reporting,
        case when received.wave is not null
            then coalesce(accepted.schools_reporting, 0) / expected.schools_expected end as completeness,
        timeliness.schools_on_time,
        timeliness.on_time_share
    from received
    cross join expected
    left join accepted
        on accepted.source = received.source and accepted.wave is not distinct from received.wave
    left join rejected
        on rejected.source = received.source and rejected.wave is not distinct from received.wave
    left join timeliness
        on timeliness.source = received.source and timeliness.wave = received.wave
)

select * from final
order by wave nulls last, source
