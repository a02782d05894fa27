-- marts.wave_changes: each area × metric against the previous wave (the wave just before it
-- among all waves of marts.area_metrics), where both estimates are published. Reads
-- staging.survey_design and staging.survey_psu_sums. Bound: $significance, $confidence,
-- $df_min, $cancellation (as in area_metrics.sql). Uses t_quantile and t_upper_tail (pipelines.uncertainty).
--
-- The two waves are not independent samples: nearly every school and many teachers recur.
-- The SE of a teacher metric's change is that of R survey on the two waves stacked in one
-- design — strata league × school_level, schools as PSUs across both waves' rows, each
-- wave post-stratified to the population (post-strata wave × stratum), then
-- svyby(~y, ~wave, covmat = TRUE) and svycontrast(c(-1, 1)). With the post-stratified
-- PSU totals t_wc = a_wc − m_wc·s̄_wh of each wave (area_metrics.sql), the change's PSU total
-- is T_c = t_Lc − t_Ec, which sums to 0 in each stratum, so
-- var = Σ_h k_h/(k_h − 1) · Σ_c T_c², k_h the stratum's schools in either wave; expanded,
-- Σ_c T_c² = Σ (a_L − a_E)² − 2·s̄_L·Σ (a_L − a_E)·m_L + 2·s̄_E·Σ (a_L − a_E)·m_E
--            + s̄_L²·Σ m_L² − 2·s̄_L·s̄_E·Σ m_L·m_E + s̄_E²·Σ m_E²,
-- the a-sums over the schools with domain members in either wave, the m-sums over every
-- school of the stratum (m = 0 in a wave the school did not answer). A school that recurs
-- with a similar value makes a_L − a_E small: the covariance R counts.
-- df = PSUs with domain members in either wave − their strata. Interval change ±
-- t(1 − α/2, df)·se; two-sided p-value from t with df; none where df < $df_min or se = 0.
-- significant: p < $significance. direction follows the metric's polarity when significant,
-- else no_change. School metrics have no sampling error (se NULL): no interval, p-value or
-- significance, and their direction is the sign of the change.
with waves as (
    select wave, lag(wave) over (order by wave) as previous_wave
    from (select distinct wave from marts.area_metrics)
),

pairs as (
    select wave, previous_wave
    from waves
    where previous_wave is not null
),

region as (
    select code as region_code
    from ref.divisions
    where level = 'region'
),

psu_sums as (
    select sums.*, design.stratum_respondents
    from staging.survey_psu_sums as sums
    inner join staging.survey_design as design using (wave, league_code, school_level, school_code)
),

psu_areas as (
    select 'region' as area_level, region.region_code as area_code, psu_sums.*
    from psu_sums
    cross join region
    union all
    select 'league' as area_level, league_code as area_code, psu_sums.*
    from psu_sums
    union all
    select 'county' as area_level, county_code as area_code, psu_sums.*
    from psu_sums
),

domains as (
    select
        wave,
        area_level,
        area_code,
        metric,
        marts.exact_sum(sum_wy) / nullif(marts.exact_sum(sum_wx), 0) as estimate,
        marts.exact_sum(sum_wx) as total_wx
    from psu_areas
    group by wave, area_level, area_code, metric
),

psu_scores as (
    select
        psu_areas.wave,
        psu_areas.area_level,
        psu_areas.area_code,
        psu_areas.metric,
        psu_areas.league_code,
        psu_areas.school_level,
        psu_areas.school_code,
        psu_areas.stratum_respondents,
        (psu_areas.sum_wy - domains.estimate * psu_areas.sum_wx) / domains.total_wx as score
    from psu_areas
    inner join domains using (wave, area_level, area_code, metric)
),

stratum_means as (
    select
        wave,
        area_level,
        area_code,
        metric,
        league_code,
        school_level,
        marts.exact_sum(score) / any_value(stratum_respondents) as mean_residual
    from psu_scores
    group by wave, area_level, area_code, metric, league_code, school_level
),

stacked_design as (
    select
        pairs.wave,
        pairs.previous_wave,
        design.league_code,
        design.school_level,
        design.school_code,
        sum(case when design.wave = pairs.previous_wave then design.respondents else 0 end) as m_earlier,
        sum(case when design.wave = pairs.wave then design.respondents else 0 end) as m_later
    from pairs
    inner join staging.survey_design as design on design.wave in (pairs.wave, pairs.previous_wave)
    group by pairs.wave, pairs.previous_wave, design.league_code, design.school_level, design.school_code
),

stacked_strata as (
    select
        wave,
        league_code,
        school_level,
        count(*) as stratum_schools,
        sum(m_earlier * m_earlier) as size_sq_earlier,
        sum(m_later * m_later) as size_sq_later,
        sum(m_earlier * m_later) as size_cross
    from stacked_design
    group by wave, league_code, school_level
),

stacked_scores as (
    select
        pairs.wave,
        pairs.previous_wave,
        scores.area_level,
        scores.area_code,
        scores.metric,
        scores.league_code,
        scores.school_level,
        scores.school_code,
        sum(case when scores.wave = pairs.wave then scores.score else 0 end)
            - sum(case when scores.wave = pairs.previous_wave then scores.score else 0 end) as score_change
    from pairs
    inner join psu_scores as scores on scores.wave in (pairs.wave, pairs.previous_wave)
    group by all
),

stratum_sums as (
    select
        stacked_scores.wave,
        stacked_scores.area_level,
        stacked_scores.area_code,
        stacked_scores.metric,
        stacked_scores.league_code,
        stacked_scores.school_level,
        count(*) as psus,
        marts.exact_sum(stacked_scores.score_change * stacked_scores.score_change) as sum_sq,
        marts.exact_sum(stacked_scores.score_change * stacked_design.m_later) as cross_later,
        marts.exact_sum(stacked_scores.score_change * stacked_design.m_earlier) as cross_earlier
    from stacked_scores
    inner join stacked_design using (wave, previous_wave, league_code, school_level, school_code)
    group by all
),

stratum_terms as (
    select
        stratum_sums.wave,
        stratum_sums.area_level,
        stratum_sums.area_code,
        stratum_sums.metric,
        stratum_sums.psus,
        stacked_strata.stratum_schools,
        stratum_sums.sum_sq + coalesce(later.mean_residual, 0) ^ 2 * stacked_strata.size_sq_later
            + coalesce(earlier.mean_residual, 0) ^ 2 * stacked_strata.size_sq_earlier as scale,
        stratum_sums.sum_sq
            - 2 * coalesce(later.mean_residual, 0) * stratum_sums.cross_later
            + 2 * coalesce(earlier.mean_residual, 0) * stratum_sums.cross_earlier
            + coalesce(later.mean_residual, 0) ^ 2 * stacked_strata.size_sq_later
            - 2 * coalesce(later.mean_residual, 0) * coalesce(earlier.mean_residual, 0) * stacked_strata.size_cross
            + coalesce(earlier.mean_residual, 0) ^ 2 * stacked_strata.size_sq_earlier as sum_squares
    from stratum_sums
    inner join pairs using (wave)
    inner join stacked_strata using (wave, league_code, school_level)
    left join stratum_means as later
        on later.wave = stratum_sums.wave
        and later.area_level = stratum_sums.area_level
        and later.area_code = stratum_sums.area_code
        and later.metric = stratum_sums.metric
        and later.league_code = stratum_sums.league_code
        and later.school_level = stratum_sums.school_level
    left join stratum_means as earlier
        on earlier.wave = pairs.previous_wave
        and earlier.area_level = stratum_sums.area_level
        and earlier.area_code = stratum_sums.area_code
        and earlier.metric = stratum_sums.metric
        and earlier.league_code = stratum_sums.league_code
        and earlier.school_level = stratum_sums.school_level
),

stratum_variances as (
    select
        wave,
        area_level,
        area_code,
        metric,
        psus,
        case
            when stratum_schools > 1 and sum_squares > $cancellation * scale then
                stratum_schools / (stratum_schools - 1.0) * sum_squares
            else 0.0
        end as variance
    from stratum_terms
),

change_variances as (
    select
        wave,
        area_level,
        area_code,
        metric,
        sqrt(greatest(marts.exact_sum(variance), 0.0)) as se,
        cast(sum(psus) - count(*) as integer) as df
    from stratum_variances
    group by wave, area_level, area_code, metric
),

published as (
    select wave, area_level, area_code, metric, estimate
    from marts.area_metrics
    where estimate is not null
),

paired as (
    select
        later.wave,
        pairs.previous_wave,
        later.area_level,
        later.area_code,
        later.metric,
        later.estimate,
        earlier.estimate as previous_estimate,
        later.estimate - earlier.estimate as change,
        change_variances.se,
        change_variances.df
    from published as later
    inner join pairs using (wave)
    inner join published as earlier
        on earlier.wave = pairs.previous_wave
        and earlier.area_level = later.area_level
        and earlier.area_code = later.area_code
        and earlier.metric = later.metric
    left join change_variances
        on change_variances.wave = later.wave
        and change_variances.area_level = later.area_level
        and change_variances.area_code = later.area_code
        and change_variances.metric = later.metric
),

tested as (
    select
        *,
        se > 0 and df >= $df_min as testable,
        t_quantile(1 - (1 - $confidence) / 2, cast(df as double)) as t_df,
        case when se > 0 and df >= $df_min
             then least(1.0, 2 * t_upper_tail(abs(change / se), cast(df as double))) end as p_value
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
        case when tested.testable then tested.change - tested.t_df * tested.se end as ci_low,
        case when tested.testable then tested.change + tested.t_df * tested.se end as ci_high,
        tested.p_value,
        case when metrics.source = 'teacher_survey' then coalesce(tested.p_value < $significance, false) end
            as significant,
        case
            when tested.change = 0 then 'no_change'
            when metrics.source = 'teacher_survey' and not coalesce(tested.p_value < $significance, false)
                then 'no_change'
            when (tested.change > 0) = (metrics.polarity = 'higher') then 'improving'
            else 'worsening'
        end as direction,
        case when metrics.source = 'teacher_survey' then tested.se end as se,
        metrics.polarity,
        case when metrics.source = 'teacher_survey' then tested.df end as df
    from tested
    inner join meta.metrics as metrics using (metric)
)

select *
from final
order by wave, area_level, area_code, metric
