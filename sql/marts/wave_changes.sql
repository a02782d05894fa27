-- marts.wave_changes: each area × metric against the previous wave (the wave just before it
-- among all waves of marts.area_metrics), where both estimates are published. Bound: $z,
-- $significance. The waves are independent samples, so se = sqrt(se² + previous se²);
-- the p-value is two-sided normal (marts.two_sided_p). direction follows the metric's
-- polarity when the change is significant, else no_change. School metrics have no sampling
-- error (se NULL): no interval, p-value or significance, and their direction is the sign
-- of the change.
with waves as (
    select wave, lag(wave) over (order by wave) as previous_wave
    from (select distinct wave from marts.area_metrics)
),

published as (
    select wave, area_level, area_code, metric, estimate, se
    from marts.area_metrics
    where estimate is not null
),

paired as (
    select
        later.wave,
        waves.previous_wave,
        later.area_level,
        later.area_code,
        later.metric,
        later.estimate,
        earlier.estimate as previous_estimate,
        later.estimate - earlier.estimate as change,
        sqrt(later.se ^ 2 + earlier.se ^ 2) as se
    from published as later
    inner join waves using (wave)
    inner join published as earlier
        on earlier.wave = waves.previous_wave
        and earlier.area_level = later.area_level
        and earlier.area_code = later.area_code
        and earlier.metric = later.metric
),

tested as (
    select
        *,
        case
            when se > 0 then marts.two_sided_p(change / se)
            when se = 0 then case when change = 0 then 1.0 else 0.0 end
        end as p_value
    from paired
),

final as (
    select
        tested.wave,
        tested.previous_wave,
        tested.area_level,
        tested.area_code,
        tested.metric,
        tested.estimate,
        tested.previous_estimate,
        tested.change,
        tested.change - $z * tested.se as ci_low,
        tested.change + $z * tested.se as ci_high,
        tested.p_value,
        tested.p_value < $significance as significant,
        case
            when tested.change = 0 or tested.p_value >= $significance then 'no_change'
            when (tested.change > 0) = (metrics.polarity = 'higher') then 'improving'
            else 'worsening'
        end as direction,
        tested.se,
        metrics.polarity
    from tested
    inner join meta.metrics as metrics using (metric)
)

select *
from final
order by wave, area_level, area_code, metric
