-- marts.source_consistency per league and wave: the league's own comparison (published
-- aggregates of marts.area_metrics) and how many of its schools were flagged. School rows
-- are only counted, never listed.
with school_league as (
    select school_code, league_code as area_code
    from ref.school_areas
    where county_listed
),

schools as (
    select
        consistency.wave,
        school_league.area_code,
        count(*) as schools_compared,
        count(*) filter (where consistency.flagged) as schools_flagged
    from marts.source_consistency as consistency
    inner join school_league on school_league.school_code = consistency.area_code
    where consistency.area_level = 'school'
    group by all
),

leagues as (
    select wave, area_code, school_reported_inspections, teacher_mean_inspections, ratio, flagged, n_respondents
    from marts.source_consistency
    where area_level = 'league'
)

select
    coalesce(leagues.wave, schools.wave) as wave,
    coalesce(leagues.area_code, schools.area_code) as area_code,
    leagues.school_reported_inspections,
    leagues.teacher_mean_inspections,
    leagues.ratio,
    leagues.flagged,
    leagues.n_respondents,
    coalesce(schools.schools_compared, 0) as schools_compared,
    coalesce(schools.schools_flagged, 0) as schools_flagged
from leagues
full join schools using (wave, area_code)
order by wave, area_code
