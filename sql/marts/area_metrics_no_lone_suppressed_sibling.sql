-- Groups of siblings (a league's counties, the region's leagues) in one wave and metric
-- that have at least two members with respondents but exactly one of them suppressed:
-- the parent's and the siblings' figures could then be combined to recover it.
with members as (
    select area_metrics.*, divisions.parent_code
    from marts.area_metrics
    inner join ref.divisions as divisions on divisions.code = area_metrics.area_code
    where area_metrics.area_level in ('league', 'county')
)

select
    wave,
    area_level,
    parent_code,
    metric,
    count(*) filter (where n >= 1) as members_with_respondents,
    count(*) filter (where suppressed and n >= 1) as suppressed_members
from members
group by wave, area_level, parent_code, metric
having count(*) filter (where suppressed and n >= 1) = 1 and count(*) filter (where n >= 1) >= 2
