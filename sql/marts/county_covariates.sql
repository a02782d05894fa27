-- The Fay–Herriot covariates of every county, from the reference files only (so they are
-- known for every county, sampled or not): the shares of its teachers at primary and
-- junior level (senior the baseline) in ref.teacher_population, and the shares of teachers
-- in urban and in town schools (rural the baseline) in ref.schools. The league enters the
-- model as indicators (pipelines.small_area). Bound: none.
with levels as (
    select
        county_code as area_code,
        sum(n_teachers) filter (where school_level = 'primary') / sum(n_teachers) as share_primary,
        sum(n_teachers) filter (where school_level = 'junior') / sum(n_teachers) as share_junior
    from ref.teacher_population
    group by county_code
),

settings as (
    select
        county_code as area_code,
        coalesce(sum(n_teachers) filter (where urban_rural = 'urban'), 0) / sum(n_teachers) as share_urban,
        coalesce(sum(n_teachers) filter (where urban_rural = 'town'), 0) / sum(n_teachers) as share_town
    from ref.schools
    group by county_code
),

final as (
    select
        counties.county_code as area_code,
        counties.league_code,
        coalesce(levels.share_primary, 0) as share_primary,
        coalesce(levels.share_junior, 0) as share_junior,
        coalesce(settings.share_urban, 0) as share_urban,
        coalesce(settings.share_town, 0) as share_town
    from ref.county_areas as counties
    left join levels on levels.area_code = counties.county_code
    left join settings on settings.area_code = counties.county_code
)

select *
from final
order by area_code
