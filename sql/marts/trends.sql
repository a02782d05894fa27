-- marts.trends: a Mann-Kendall test and Sen's slope per area × metric over the waves with a
-- published estimate, where there are at least $min_waves of them. Bound: $min_waves,
-- $significance. The wave index is the rank of the wave among all waves of
-- marts.area_metrics, so a gap left by a suppressed wave keeps its distance.
-- S = Σ_{i<j} sign(y_j − y_i); var S = [n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)] / 18 over groups
-- of t tied estimates; z = (S − sign S) / sqrt(var S) (continuity correction); two-sided
-- normal p-value. Sen's slope = median over pairs of (y_j − y_i) / (index_j − index_i).
-- q_value: Benjamini–Hochberg over every test of the table (all areas and metrics at
-- once): q_(i) = min over j ≥ i of m·p_(j)/j, capped at 1, m the number of tests, so that
-- among thousands of series the expected share of false trend labels stays at
-- $significance. direction: improving or worsening by the metric's polarity (meta.metrics,
-- lower is better unless 'higher') when q < $significance, else no_change.
with wave_index as (
    select wave, dense_rank() over (order by wave) as wave_no
    from (select distinct wave from marts.area_metrics)
),

published as (
    select area_level, area_code, metric, wave, wave_index.wave_no, estimate
    from marts.area_metrics
    inner join wave_index using (wave)
    where estimate is not null
),

series as (
    select
        area_level,
        area_code,
        metric,
        count(*) as n_waves,
        arg_min(wave, wave_no) as first_wave,
        arg_max(wave, wave_no) as last_wave,
        arg_min(estimate, wave_no) as first_estimate,
        arg_max(estimate, wave_no) as last_estimate
    from published
    group by area_level, area_code, metric
    having count(*) >= $min_waves
),

points as (
    select published.*
    from published
    inner join series using (area_level, area_code, metric)
),

pairs as (
    select
        earlier.area_level,
        earlier.area_code,
        earlier.metric,
        sign(later.estimate - earlier.estimate) as pair_sign,
        (later.estimate - earlier.estimate) / (later.wave_no - earlier.wave_no) as pair_slope
    from points as earlier
    inner join points as later
        on later.area_level = earlier.area_level
        and later.area_code = earlier.area_code
        and later.metric = earlier.metric
        and later.wave_no > earlier.wave_no
),

pair_statistics as (
    select
        area_level,
        area_code,
        metric,
        cast(sum(pair_sign) as integer) as mk_s,
        median(pair_slope) as slope_per_wave
    from pairs
    group by area_level, area_code, metric
),

tie_groups as (
    select area_level, area_code, metric, count(*) as tied
    from points
    group by area_level, area_code, metric, estimate
    having count(*) > 1
),

tie_terms as (
    select area_level, area_code, metric, sum(tied * (tied - 1) * (2 * tied + 5)) as tie_term
    from tie_groups
    group by area_level, area_code, metric
),

variances as (
    select
        series.*,
        pair_statistics.mk_s,
        pair_statistics.slope_per_wave,
        (series.n_waves * (series.n_waves - 1) * (2 * series.n_waves + 5) - coalesce(tie_terms.tie_term, 0))
            / 18.0 as var_s
    from series
    inner join pair_statistics using (area_level, area_code, metric)
    left join tie_terms using (area_level, area_code, metric)
),

standardised as (
    select
        *,
        case
            when var_s > 0 and mk_s > 0 then (mk_s - 1) / sqrt(var_s)
            when var_s > 0 and mk_s < 0 then (mk_s + 1) / sqrt(var_s)
            else 0.0
        end as z
    from variances
),

tested as (
    select *, marts.two_sided_p(z) as p_value
    from standardised
),

ranked as (
    select
        *,
        row_number() over (order by p_value, area_level, area_code, metric) as p_rank,
        count(*) over () as tests
    from tested
),

adjusted as (
    select
        *,
        least(1.0, min(tests * p_value / p_rank) over (
            order by p_rank desc rows between unbounded preceding and current row
        )) as q_value
    from ranked
),

final as (
    select
        tested.area_level,
        tested.area_code,
        tested.metric,
        cast(tested.n_waves as integer) as n_waves,
        tested.first_wave,
        tested.last_wave,
        tested.first_estimate,
        tested.last_estimate,
        tested.slope_per_wave,
        tested.p_value,
        case
            when tested.q_value >= $significance or tested.mk_s = 0 then 'no_change'
            when (tested.mk_s > 0) = (metrics.polarity = 'higher') then 'improving'
            else 'worsening'
        end as direction,
        tested.mk_s,
        metrics.polarity,
        tested.var_s,
        tested.z,
        tested.q_value
    from adjusted as tested
    inner join meta.metrics as metrics using (metric)
)

select *
from final
order by area_level, area_code, metric
