-- School-report completeness per league and wave, computed from staging and ref.schools: the
-- fallback for warehouses without marts.reporting_completeness rows (same columns, no
-- timeliness). Every league appears in every wave with school reports, at 0 when none came.
with school_league as (
    select school_code, league_code as area_code
    from ref.school_areas
    where county_listed
),

expected as (
    select area_code, count(*) as schools_expected
    from school_league
    group by area_code
),

reported as (
    select reports.wave, school_league.area_code, count(distinct reports.school_code) as schools_reporting
    from staging.school_report_staged as reports
    inner join school_league using (school_code)
    group by all
),

waves as (
    select distinct wave
    from staging.school_report_staged
)

select
    waves.wave,
    'league' as area_level,
    expected.area_code,
    expected.schools_expected,
    coalesce(reported.schools_reporting, 0) as schools_reporting,
    coalesce(reported.schools_reporting, 0) / expected.schools_expected as completeness,
    cast(null as bigint) as schools_on_time,
    cast(null as double) as on_time_share
from waves
cross join expected
left join reported on reported.wave = waves.wave and reported.area_code = expected.area_code
order by waves.wave, expected.area_code
