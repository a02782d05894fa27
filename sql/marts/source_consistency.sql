-- marts.source_consistency: inspections a school reports against the inspections its
-- teachers report, per school and per league and wave. A school's figure is its reported
-- n_inspections against the plain mean over its respondents; a league's is its
-- inspections per reporting school against its teachers' survey-weighted mean, both the
-- published cells of marts.area_metrics (school_inspections_per_school, n_inspections).
-- ratio = school / teachers; flagged where the ratio is above $ratio or below 1 / $ratio,
-- or where teachers report none and the school some (the ratio is then undefined).
-- A school's teacher mean follows the disclosure rule of area_metrics: NULL, and nothing
-- flagged, under $min_n respondents, and NULL too where its county's n_inspections cell is
-- suppressed in the wave — the means of a county's schools would otherwise give back the
-- county figure that complementary suppression withheld. Bound: $ratio, $min_n.
with school_reports as (
    select wave, school_code, cast(n_inspections as double) as inspections
    from staging.school_report_staged
    where n_inspections is not null
),

teacher_means as (
    select wave, school_code, count(n_inspections) as n_respondents, avg(n_inspections) as mean_inspections
    from staging.teacher_survey_staged
    group by wave, school_code
    having count(n_inspections) > 0
),

schools as (
    select
        school_reports.wave,
        'school' as area_level,
        school_reports.school_code as area_code,
        school_reports.inspections as school_reported_inspections,
        case when teacher_means.n_respondents >= $min_n and county_cells.estimate is not null
             then teacher_means.mean_inspections end as teacher_mean_inspections,
        teacher_means.n_respondents
    from school_reports
    inner join teacher_means using (wave, school_code)
    inner join ref.schools as schools using (school_code)
    left join marts.area_metrics as county_cells
        on county_cells.wave = school_reports.wave
        and county_cells.area_level = 'county'
        and county_cells.area_code = schools.county_code
        and county_cells.metric = 'n_inspections'
),

leagues as (
    select
        reported.wave,
        'league' as area_level,
        reported.area_code,
        reported.estimate as school_reported_inspections,
        teachers.estimate as teacher_mean_inspections,
        teachers.n as n_respondents
    from marts.area_metrics as reported
    inner join marts.area_metrics as teachers
        on teachers.wave = reported.wave
        and teachers.area_level = reported.area_level
        and teachers.area_code = reported.area_code
        and teachers.metric = 'n_inspections'
    where reported.area_level = 'league'
        and reported.metric = 'school_inspections_per_school'
        and reported.estimate is not null
),

compared as (
    select
        *,
        school_reported_inspections / nullif(teacher_mean_inspections, 0) as ratio
    from (select * from schools union all select * from leagues)
),

final as (
    select
        wave,
        area_level,
        area_code,
        school_reported_inspections,
        teacher_mean_inspections,
        ratio,
        coalesce(
            (teacher_mean_inspections = 0 and school_reported_inspections > 0)
            or ratio > $ratio
            or ratio < 1 / $ratio,
            false
        ) as flagged,
        n_respondents
    from compared
)

select *
from final
order by wave, area_level, area_code
