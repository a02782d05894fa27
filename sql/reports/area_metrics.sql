-- The marts.area_metrics cells the report site draws: the metrics named in $metrics, for
-- every area and wave, rounded to $digits decimals (the pages show at most three), each
-- flagged when its question was not collected there (marts.metrics_not_collected). Only
-- published aggregates and their suppression flags leave here.
with source as (
    select *
    from marts.area_metrics
    where list_contains($metrics, metric)
),

final as (
    select
        source.wave,
        source.area_level,
        source.area_code,
        source.metric,
        round(source.estimate, $digits) as estimate,
        round(source.ci_low, $digits) as ci_low,
        round(source.ci_high, $digits) as ci_high,
        source.n,
        source.suppressed,
        source.reliability,
        not_collected.metric is not null as not_collected
    from source
    left join marts.metrics_not_collected as not_collected
        on not_collected.wave = source.wave
        and not_collected.area_code = source.area_code
        and not_collected.metric = source.metric
)

select * from final
order by wave, area_level, area_code, metric
