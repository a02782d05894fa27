-- Groups of siblings (a league's counties, the region's leagues) in one wave and metric
-- whose suppressed members with respondents hold fewer than $min_suppressed_total of them
-- while a sibling is still published: the parent's and the published siblings' figures
-- could then be combined to recover a small cell or a small sum of cells.
with members as (
    select area_metrics.*, divisions.parent_code
    from marts.area_metrics
    inner join ref.divisions as divisions on divisions.code = area_metrics.area_code
    inner join meta.metrics as metrics on metrics.metric = area_metrics.metric
    where area_metrics.area_level in ('league', 'county') and metrics.source = 'teacher_survey'
)

select
    wave,
    area_level,
    parent_code,
    metric,
    count(*) filter (where suppressed and n >= 1) as suppressed_members,
    cast(sum(n) filter (where suppressed and n >= 1) as bigint) as suppressed_n,
    count(*) filter (where not suppressed) as published_members
from members
group by wave, area_level, parent_code, metric
having count(*) filter (where suppressed and n >= 1) >= 1
    and sum(n) filter (where suppressed and n >= 1) < $min_suppressed_total
    and count(*) filter (where not suppressed) >= 1
