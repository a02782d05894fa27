-- staging.survey_design for one wave: a row per PSU (school within its stratum league ×
-- school_level) with its respondents and the stratum's post-stratification constants.
-- Bound: $wave.
--
-- Weight w = N_h / n_h per stratum h: N_h the stratum's teachers in ref.teacher_population,
-- n_h its accepted respondents in the wave. Respondents of a stratum without a population
-- count cannot be weighted and are left out (R's postStratify would refuse them).
-- stratum_size_sq = Σ_c m_c² over the stratum's schools (m_c = respondents of school c):
-- the post-stratification residual of a school without domain members is −m_c·s̄_h, so
-- the variance needs this sum over every school of the stratum, members or not.
with population as (
    select
        counties.league_code,
        teacher_population.school_level,
        sum(teacher_population.n_teachers) as stratum_population
    from ref.teacher_population as teacher_population
    inner join ref.county_areas as counties on counties.county_code = teacher_population.county_code
    group by all
),

psus as (
    select
        league_code,
        school_level,
        school_code,
        any_value(county_code) as county_code,
        count(*) as respondents
    from staging.teacher_survey_staged
    where wave = $wave
    group by league_code, school_level, school_code
),

strata as (
    select
        league_code,
        school_level,
        sum(respondents) as stratum_respondents,
        count(*) as stratum_schools,
        sum(respondents * respondents) as stratum_size_sq
    from psus
    group by league_code, school_level
),

final as (
    select
        $wave as wave,
        psus.league_code,
        psus.school_level,
        psus.school_code,
        psus.county_code,
        psus.respondents,
        strata.stratum_respondents,
        strata.stratum_schools,
        strata.stratum_size_sq,
        population.stratum_population,
        population.stratum_population / strata.stratum_respondents as weight
    from psus
    inner join strata using (league_code, school_level)
    inner join population using (league_code, school_level)
)

select *
from final
order by league_code, school_level, school_code
