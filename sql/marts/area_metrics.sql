-- marts.area_metrics for one wave: a row per area of ref.divisions (the region, every
-- league, every county) and metric of meta.metrics. Reads staging.survey_design and
-- staging.survey_psu_sums of the wave. Bound: $wave, $min_n, $min_suppressed_total,
-- $rse_caution, $df_caution, $df_min, $confidence, $cancellation. Uses the scalar functions t_quantile
-- and beta_quantile that pipelines.uncertainty registers on the connection.
--
-- Teacher metrics. Estimate R = Σ w·y / Σ w·x over the area's respondents with a
-- non-blank y (weights and metric definitions: survey_design.sql, survey_psu_sums.sql).
--
-- Standard error: Taylor linearisation exactly as R survey::svymean / svyratio on
-- postStratify(design, ~stratum, population) with strata = post-strata = league ×
-- school_level, PSUs = schools within their stratum (nest = TRUE), with replacement, no
-- FPC. d_i = (y_i − R·x_i) / Σ_D w·x inside the domain D and 0 outside; post-stratification
-- replaces w_i·d_i by w_i·(d_i − d̄_h), d̄_h the plain mean of d over all n_h respondents of
-- stratum h (R: svyrecvar's psmeans). As w is constant in h, the PSU total is
-- t_hc = a_c − m_c·s̄_h with a_c = Σ_{i∈c} w_i·d_i, m_c the school's respondents and
-- s̄_h = Σ_c a_c / n_h; these totals sum to 0 in h, so
-- var = Σ_h k_h/(k_h − 1) · (Σ a_c² − 2·s̄_h·Σ a_c·m_c + s̄_h²·Σ_all m_c²), k_h the
-- stratum's schools in the wave. Schools without domain members enter only through
-- Σ_all m_c² (survey_design.stratum_size_sq). A single-school stratum has t = 0 and adds
-- nothing (R's survey.lonely.psu = "adjust" centres it at the grand mean, which is 0).
-- The expanded sum cancels: where it is within $cancellation of its terms' size it is
-- rounding noise of an exact 0 (e.g. schools with identical answers), and counts as 0 —
-- else a noise SE of 1e-10 would print a certain-looking interval.
-- df = PSUs with respondents in the area − strata with respondents in the area (R's
-- degf on the domain). deff = var / (s²/n), s² = Σ w·(y − R·x)² / (x̄² · Σ w) · n/(n − 1),
-- x̄ = Σ w·x / Σ w: R's svymean(deff = "replace").
--
-- Intervals (level $confidence). Shares other than felt_net (felt_*_share, focus_share,
-- item_NN): Korn–Graubard exactly as R svyciprop(method = "beta"): effective n
-- n* = p(1 − p)/se² (n where se = 0) · (t(α/2, N − 1) / t(α/2, df))², N the wave's
-- respondents (R keeps the whole calibrated design when it takes a domain, so nrow is
-- N); bounds qbeta(α/2; n*p, n*(1 − p) + 1) and qbeta(1 − α/2; n*p + 1, n*(1 − p)),
-- exactly 0 at p = 0 and 1 at p = 1. Means, nonteaching_share and felt_net:
-- estimate ± t(1 − α/2, df)·se, and no interval where se = 0 (a zero-width interval
-- would claim certainty no sample gives).
-- No interval, and reliability 'unreliable', where df < $df_min or all of the area's
-- respondents come from one school. Otherwise 'caution' where se/|estimate| ≥
-- $rse_caution, df < $df_caution, the estimate is 0 or se is 0; else 'reliable'.
--
-- Disclosure control. n = respondents with a non-blank value. Primary: n < $min_n.
-- Complementary: within one metric and one parent (a league's counties; the region's
-- leagues) with a primarily suppressed member with n ≥ 1, published members are suppressed
-- in order of n (ties: lowest code) while the suppressed members' total n is below
-- $min_suppressed_total, so that no small cell, nor a small sum of them, can be recovered
-- from the parent and the published siblings. Suppressed rows keep n but have NULL
-- estimate, ci, se, df, deff, reliability and estimate_unweighted.
--
-- School metrics: over the wave's reporting schools, unweighted, no interval, n =
-- reporting schools, never suppressed (they describe institutions, not people); kind
-- 'total' sums, 'per_school' averages the non-blank values. Without sampling error their
-- reliability is 'reliable'.
with region as (
    select code as region_code
    from ref.divisions
    where level = 'region'
),

design as (
    select *
    from staging.survey_design
    where wave = $wave
),

wave_size as (
    select sum(respondents) as wave_respondents
    from design
),

psu_sums as (
    select sums.*, design.respondents, design.stratum_respondents, design.stratum_schools, design.stratum_size_sq
    from staging.survey_psu_sums as sums
    inner join design using (wave, league_code, school_level, school_code)
    where sums.wave = $wave
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
        area_level,
        area_code,
        metric,
        sum(n) as n,
        marts.exact_sum(sum_wy) / nullif(marts.exact_sum(sum_wx), 0) as estimate,
        marts.exact_sum(sum_y) / nullif(marts.exact_sum(sum_x), 0) as estimate_unweighted,
        marts.exact_sum(sum_wx) as total_wx,
        marts.exact_sum(sum_w) as total_w,
        marts.exact_sum(sum_wyy) as total_wyy,
        marts.exact_sum(sum_wxy) as total_wxy,
        marts.exact_sum(sum_wxx) as total_wxx,
        count(distinct school_code) as schools,
        count(*) as psus,
        -- the space marks a row value (league, level), not a call
        count(distinct (league_code, school_level)) as strata  -- noqa: LT01
    from psu_areas
    group by area_level, area_code, metric
),

psu_scores as (
    select
        psu_areas.area_level,
        psu_areas.area_code,
        psu_areas.metric,
        psu_areas.league_code,
        psu_areas.school_level,
        psu_areas.respondents,
        psu_areas.stratum_respondents,
        psu_areas.stratum_schools,
        psu_areas.stratum_size_sq,
        (psu_areas.sum_wy - domains.estimate * psu_areas.sum_wx) / domains.total_wx as score
    from psu_areas
    inner join domains using (area_level, area_code, metric)
),

stratum_sums as (
    select
        area_level,
        area_code,
        metric,
        any_value(stratum_schools) as stratum_schools,
        any_value(stratum_size_sq) as stratum_size_sq,
        marts.exact_sum(score) / any_value(stratum_respondents) as mean_residual,
        marts.exact_sum(score * score) as sum_sq,
        marts.exact_sum(score * respondents) as sum_cross
    from psu_scores
    group by area_level, area_code, metric, league_code, school_level
),

stratum_variances as (
    select
        area_level,
        area_code,
        metric,
        case
            when stratum_schools > 1
                and sum_sq - 2 * mean_residual * sum_cross + mean_residual * mean_residual * stratum_size_sq
                    > $cancellation * (sum_sq + mean_residual * mean_residual * stratum_size_sq) then
                stratum_schools / (stratum_schools - 1.0)
                * (sum_sq - 2 * mean_residual * sum_cross + mean_residual * mean_residual * stratum_size_sq)
            else 0.0
        end as variance
    from stratum_sums
),

teacher_cells as (
    select
        domains.area_level,
        domains.area_code,
        domains.metric,
        domains.n,
        domains.estimate,
        greatest(marts.exact_sum(stratum_variances.variance), 0.0) as variance,
        domains.estimate_unweighted,
        domains.schools,
        domains.psus - domains.strata as df,
        (domains.total_wyy - 2 * domains.estimate * domains.total_wxy
         + domains.estimate * domains.estimate * domains.total_wxx)
        * domains.total_w / (domains.total_wx * domains.total_wx) / nullif(domains.n - 1, 0) as srs_variance
    from domains
    inner join stratum_variances using (area_level, area_code, metric)
    group by all
),

reports as (
    select *
    from staging.school_report_staged
    where wave = $wave
),

report_areas as (
    select 'region' as area_level, region.region_code as area_code, reports.*
    from reports
    cross join region
    union all
    select 'league' as area_level, league_code as area_code, reports.*
    from reports
    union all
    select 'county' as area_level, county_code as area_code, reports.*
    from reports
),

reporting_schools as (
    select area_level, area_code, count(*) as n
    from report_areas
    group by area_level, area_code
),

report_indicators as (
    select
        area_level,
        area_code,
        cast(n_inspections as double) as school_inspections_per_school,
        cast(n_campus_events as double) as school_campus_events_per_school,
        cast(n_forms_requests as double) as school_forms_per_school,
        cast(n_seconded_over_6m as double) as school_seconded_over_6m
    from report_areas
),

report_values as (
    unpivot report_indicators
    on columns(* exclude (area_level, area_code))
    into name metric value y
),

school_cells as (
    select
        report_values.area_level,
        report_values.area_code,
        report_values.metric,
        marts.exact_sum(report_values.y)
            / case when any_value(metrics.kind) = 'total' then 1 else count(*) end as estimate
    from report_values
    inner join meta.metrics as metrics on metrics.metric = report_values.metric
    group by report_values.area_level, report_values.area_code, report_values.metric
),

areas as (
    select level as area_level, code as area_code, parent_code
    from ref.divisions
    where level in ('region', 'league', 'county')
),

cells as (
    select
        areas.area_level,
        areas.area_code,
        areas.parent_code,
        metrics.metric,
        metrics.source,
        metrics.kind = 'share' and metrics.metric <> 'felt_net' as korn_graubard,
        case
            when metrics.source = 'school_report' then coalesce(reporting_schools.n, 0)
            else coalesce(teacher_cells.n, 0)
        end as n,
        coalesce(teacher_cells.estimate, school_cells.estimate) as estimate,
        sqrt(teacher_cells.variance) as se,
        teacher_cells.df,
        teacher_cells.variance / nullif(teacher_cells.srs_variance, 0) as deff,
        teacher_cells.schools,
        coalesce(teacher_cells.estimate_unweighted, school_cells.estimate) as estimate_unweighted,
        metrics.source = 'teacher_survey' and coalesce(teacher_cells.n, 0) < $min_n as primary_suppressed
    from areas
    cross join meta.metrics as metrics
    left join teacher_cells
        on metrics.source = 'teacher_survey'
        and teacher_cells.area_level = areas.area_level
        and teacher_cells.area_code = areas.area_code
        and teacher_cells.metric = metrics.metric
    left join reporting_schools
        on metrics.source = 'school_report'
        and reporting_schools.area_level = areas.area_level
        and reporting_schools.area_code = areas.area_code
    left join school_cells
        on metrics.source = 'school_report'
        and school_cells.area_level = areas.area_level
        and school_cells.area_code = areas.area_code
        and school_cells.metric = metrics.metric
),

sibling_groups as (
    select
        area_level,
        parent_code,
        metric,
        coalesce(sum(n) filter (where primary_suppressed and n >= 1), 0) as suppressed_n
    from cells
    where source = 'teacher_survey' and area_level in ('league', 'county')
    group by area_level, parent_code, metric
    having count(*) filter (where primary_suppressed and n >= 1) >= 1
),

queue as (
    select
        cells.area_level,
        cells.area_code,
        cells.metric,
        sibling_groups.suppressed_n + coalesce(sum(cells.n) over (
            partition by cells.area_level, cells.parent_code, cells.metric
            order by cells.n, cells.area_code
            rows between unbounded preceding and 1 preceding
        ), 0) as suppressed_before
    from cells
    inner join sibling_groups using (area_level, parent_code, metric)
    where not cells.primary_suppressed
),

secondary as (
    select area_level, area_code, metric
    from queue
    where suppressed_before < $min_suppressed_total
),

suppressed as (
    select
        cells.*,
        case
            when cells.primary_suppressed then 'primary'
            when secondary.area_code is not null then 'secondary'
        end as suppression
    from cells
    left join secondary using (area_level, area_code, metric)
),

quantiles as (
    select
        suppressed.*,
        suppressed.suppression is null and suppressed.source = 'teacher_survey'
            and suppressed.estimate is not null and suppressed.df >= $df_min and suppressed.schools >= 2
            as has_interval,
        t_quantile(1 - (1 - $confidence) / 2, cast(suppressed.df as double)) as t_df,
        case when suppressed.korn_graubard then
            (case when suppressed.se > 0
                  then suppressed.estimate * (1 - suppressed.estimate) / (suppressed.se * suppressed.se)
                  else suppressed.n end)
            * (t_quantile((1 - $confidence) / 2, wave_size.wave_respondents - 1.0)
               / t_quantile((1 - $confidence) / 2, cast(suppressed.df as double))) ^ 2
        end as effective_n
    from suppressed
    cross join wave_size
),

intervals as (
    select
        *,
        case
            when not has_interval then null
            when korn_graubard then
                case when estimate <= 0 then 0.0
                     else beta_quantile((1 - $confidence) / 2, effective_n * estimate,
                                        effective_n * (1 - estimate) + 1) end
            when se > 0 then estimate - t_df * se
        end as ci_low,
        case
            when not has_interval then null
            when korn_graubard then
                case when estimate >= 1 then 1.0
                     else beta_quantile(1 - (1 - $confidence) / 2, effective_n * estimate + 1,
                                        effective_n * (1 - estimate)) end
            when se > 0 then estimate + t_df * se
        end as ci_high
    from quantiles
),

final as (
    select
        $wave as wave,
        area_level,
        area_code,
        metric,
        case when suppression is null then estimate end as estimate,
        ci_low,
        ci_high,
        n,
        suppression is not null as suppressed,
        case when suppression is null then se end as se,
        case
            when suppression is not null or estimate is null then null
            when source = 'school_report' then 'reliable'
            when not has_interval then 'unreliable'
            when estimate = 0 or se = 0 or df < $df_caution or se / abs(estimate) >= $rse_caution then 'caution'
            else 'reliable'
        end as reliability,
        suppression,
        case when suppression is null then estimate_unweighted end as estimate_unweighted,
        case when suppression is null then df end as df,
        case when suppression is null then deff end as deff
    from intervals
)

select *
from final
order by area_level, area_code, metric
