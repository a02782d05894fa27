-- marts.reporting_completeness for one wave: how many of the schools of ref.schools sent an
-- accepted school report, and how many sent it on time, per county, league and the region.
-- Bound: $wave, $due_days. A report is on time when the date of its accepted reported_at is
-- on or before the last day of the wave's month plus $due_days (the report due date).
-- on_time_share is over the schools expected, as completeness is (the "reporting rate on
-- time"), so it never exceeds completeness. Areas without any school in ref.schools get no row.
with schools as (
    select school_code, county_code, league_code, region_code
    from ref.school_areas
),

due as (
    select last_day(cast(strptime($wave, '%Y-%m') as date)) + cast($due_days as integer) as due_date
),

reports as (
    select
        reports.school_code,
        cast(reports.reported_at as date) <= due.due_date as on_time
    from staging.school_report_staged as reports
    cross join due
    where reports.wave = $wave
),

by_school as (
    select
        schools.*,
        reports.school_code is not null as reporting,
        coalesce(reports.on_time, false) as on_time
    from schools
    left join reports using (school_code)
),

areas as (
    select 'region' as area_level, region_code as area_code, reporting, on_time from by_school
    union all
    select 'league' as area_level, league_code as area_code, reporting, on_time from by_school
    union all
    select 'county' as area_level, county_code as area_code, reporting, on_time from by_school
),

final as (
    select
        $wave as wave,
        areas.area_level,
        areas.area_code,
        count(*) as schools_expected,
        count(*) filter (where areas.reporting) as schools_reporting,
        count(*) filter (where areas.reporting) / count(*) as completeness,
        count(*) filter (where areas.on_time) as schools_on_time,
        count(*) filter (where areas.on_time) / count(*) as on_time_share,
        any_value(due.due_date) as due_date
    from areas
    cross join due
    where areas.area_code is not null
    group by areas.area_level, areas.area_code
)

select *
from final
order by area_level, area_code
