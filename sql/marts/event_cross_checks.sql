-- marts.event_cross_checks: the event register (staging.campus_event_staged) against the other
-- sources, per school and wave, so a monitor resting on it can be trusted. A wave's window is
-- the $window_months months ending with the wave's month; only waves whose window holds some
-- registered event (for any school) are judged.
--   school_report_inspections  the school report's n_inspections against the school's events
--                              of $inspection_kinds in the window; flagged when they differ by
--                              more than $tolerance
--   teacher_inspections        paper compliance: no inspection event in the window, yet the
--                              school's teachers report a mean n_inspections of at least
--                              $paper_inspections
--   teacher_campus_activities  paper compliance: no campus_activity event in the window, yet a
--                              share of at least $paper_item_share of the teachers report item_11
--                              (other departments holding events in the school at will)
-- A school's teacher figure is NULL, and nothing flagged, under $min_n respondents (the
-- disclosure rule of area_metrics). Bound: $window_months, $inspection_kinds, $tolerance,
-- $paper_inspections, $paper_item_share, $min_n.
with events as (
    select school_code, strftime(event_date, '%Y-%m') as month, kind
    from staging.campus_event_staged
),

waves as (
    select distinct wave
    from (
        select wave from staging.school_report_staged
        union all
        select wave from staging.teacher_survey_staged
    )
),

windows as (
    select wave, strftime(cast(wave || '-01' as date) - to_months($window_months - 1), '%Y-%m') as first_month
    from waves
),

covered as (
    select windows.*
    from windows
    where exists (select 1 from events where events.month between windows.first_month and windows.wave)
),

window_events as (
    select
        covered.wave,
        events.school_code,
        count(*) filter (where list_contains($inspection_kinds, events.kind)) as inspection_events,
        count(*) filter (where events.kind = 'campus_activity') as activity_events
    from covered
    inner join events on events.month between covered.first_month and covered.wave
    group by all
),

reports as (
    select
        reports.wave,
        reports.school_code,
        'school_report_inspections' as check_name,
        cast(reports.n_inspections as double) as reported,
        coalesce(window_events.inspection_events, 0) as events,
        cast(null as bigint) as n_respondents
    from staging.school_report_staged as reports
    inner join covered using (wave)
    left join window_events using (wave, school_code)
    where reports.n_inspections is not null
),

teachers as (
    select
        wave,
        school_code,
        count(n_inspections) as n_inspections_respondents,
        avg(n_inspections) as mean_inspections,
        count(item_11) as n_item_respondents,
        avg(item_11) as item_share
    from staging.teacher_survey_staged
    inner join covered using (wave)
    group by all
),

teacher_checks as (
    select
        teachers.wave,
        teachers.school_code,
        'teacher_inspections' as check_name,
        case when teachers.n_inspections_respondents >= $min_n then teachers.mean_inspections end as reported,
        coalesce(window_events.inspection_events, 0) as events,
        teachers.n_inspections_respondents as n_respondents
    from teachers
    left join window_events using (wave, school_code)
    where teachers.n_inspections_respondents > 0
    union all
    select
        teachers.wave,
        teachers.school_code,
        'teacher_campus_activities' as check_name,
        case when teachers.n_item_respondents >= $min_n then teachers.item_share end as reported,
        coalesce(window_events.activity_events, 0) as events,
        teachers.n_item_respondents as n_respondents
    from teachers
    left join window_events using (wave, school_code)
    where teachers.n_item_respondents > 0
),

checks as (
    select * from reports
    union all
    select * from teacher_checks
),

final as (
    select
        checks.wave,
        checks.school_code,
        areas.county_code,
        areas.league_code,
        checks.check_name,
        checks.reported,
        checks.events,
        checks.n_respondents,
        coalesce(case checks.check_name
            when 'school_report_inspections' then abs(checks.reported - checks.events) > $tolerance
            when 'teacher_inspections' then checks.events = 0 and checks.reported >= $paper_inspections
            when 'teacher_campus_activities' then checks.events = 0 and checks.reported >= $paper_item_share
        end, false) as flagged
    from checks
    inner join ref.school_areas as areas using (school_code)
    where areas.county_listed
)

select * from final
order by wave, check_name, school_code
