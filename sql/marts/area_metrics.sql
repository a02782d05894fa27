-- marts.area_metrics for one wave: a row per area of ref.divisions (the region, every
-- league, every county) and metric of meta.metrics. Bound: $wave, $z, $min_n, $rse_caution.
--
-- Teacher metrics. Weight w = N_h / n_h per stratum h = league × school_level: N_h the
-- stratum's teachers in ref.teacher_population, n_h its accepted respondents in the wave
-- (respondents of a stratum without a population count cannot be weighted and are left
-- out). Estimate R = Σ w·y / Σ w·x over the area's respondents with a non-blank y; x = 1
-- except nonteaching_share (y = hours_nonteaching, x = hours_total, both non-blank).
-- hours_nonteaching = hours_cat1 + … + hours_cat5, blank when any category is blank: a
-- partial sum would understate the burden.
--
-- Standard error: Taylor linearisation exactly as R survey::svymean / svyratio with
-- strata = league × school_level, PSUs = schools within their stratum (nest = TRUE),
-- with replacement, no FPC. z_i = w_i·(y_i − R·x_i) / Σ w·x inside the domain and 0
-- outside; z_hc = PSU totals; var = Σ_h n_h/(n_h − 1) · Σ_c (z_hc − z̄_h)², c running
-- over all n_h schools of stratum h in the wave (a school without a domain member has
-- z_hc = 0). A stratum with a single school is centred at the grand mean of the PSU
-- totals, which is 0 for a linearised ratio, and adds z_hc² (survey.lonely.psu =
-- "adjust"): a lone school must not make an estimate look certain.
-- z_i is linear, so PSU totals come from the PSUs' sums of w·y and w·x: respondents are
-- aggregated once per PSU and metric, then rolled up to the three area levels.
-- Every sum is marts.exact_sum, so re-runs give identical bits whatever the thread order.
-- ci = estimate ± $z·se; reliability 'caution' when se/|estimate| ≥ $rse_caution, when the
-- estimate is 0 with se > 0, or when all the area's respondents come from one school (its
-- variance cannot be estimated from a single cluster).
--
-- Disclosure control. n = respondents with a non-blank value. Primary: n < $min_n.
-- Secondary: within one metric and one parent (a league's counties; the region's leagues),
-- when exactly one member with n ≥ 1 is primarily suppressed, the published member with
-- the smallest n (ties: lowest code) is suppressed too, so that the parent and the
-- published siblings cannot be combined to recover the small cell. Suppressed rows keep
-- n but have NULL estimate, ci, se, reliability and estimate_unweighted.
--
-- School metrics: over the wave's reporting schools, unweighted, no interval, n =
-- reporting schools, never suppressed (they describe institutions, not people); kind
-- 'total' sums, 'per_school' averages the non-blank values. Without sampling error their
-- reliability is 'ok'.
with region as (
    select code as region_code
    from ref.divisions
    where level = 'region'
),

population as (
    select
        counties.parent_code as league_code,
        teacher_population.school_level,
        sum(teacher_population.n_teachers) as stratum_population
    from ref.teacher_population as teacher_population
    inner join ref.divisions as counties
        on counties.code = teacher_population.county_code and counties.level = 'county'
    group by all
),

survey as (
    select
        *,
        hours_cat1 + hours_cat2 + hours_cat3 + hours_cat4 + hours_cat5 as hours_nonteaching
    from staging.teacher_survey_staged
    where wave = $wave
),

strata as (
    select
        league_code,
        school_level,
        count(*) as stratum_respondents,
        count(distinct school_code) as stratum_schools
    from survey
    group by all
),

weighted as (
    select
        survey.*,
        population.stratum_population / strata.stratum_respondents as weight,
        strata.stratum_schools
    from survey
    inner join strata using (league_code, school_level)
    inner join population using (league_code, school_level)
),

indicators as (
    select
        league_code,
        school_level,
        school_code,
        county_code,
        weight,
        stratum_schools,
        hours_total as ratio_denominator,
        hours_total,
        hours_nonteaching,
        hours_cat1,
        hours_cat2,
        hours_cat3,
        hours_cat4,
        hours_cat5,
        case when hours_total is not null then hours_nonteaching end as nonteaching_share,
        case when felt_change >= 4 then 1.0 when felt_change is not null then 0.0 end as felt_lighter_share,
        case when felt_change <= 2 then 1.0 when felt_change is not null then 0.0 end as felt_heavier_share,
        case when felt_change >= 4 then 1.0 when felt_change <= 2 then -1.0 when felt_change is not null then 0.0 end
            as felt_net,
        case when focus_on_teaching >= 4 then 1.0 when focus_on_teaching is not null then 0.0 end as focus_share,
        cast(columns('^item_[0-9]{2}$') = 1 as double),
        cast(n_inspections as double) as n_inspections,
        cast(n_forms as double) as n_forms,
        cast(n_app_tasks as double) as n_app_tasks,
        cast(n_nonteaching_meetings as double) as n_nonteaching_meetings,
        cast(n_invigilations as double) as n_invigilations,
        cast(days_seconded as double) as days_seconded,
        training_hours_nonteaching
    from weighted
),

answers as (
    unpivot indicators
    on columns(* exclude (league_code, school_level, school_code, county_code, weight, stratum_schools,
                          ratio_denominator))
    into name metric value y
),

answers_with_denominator as (
    select
        answers.*,
        case when metric = 'nonteaching_share' then ratio_denominator else 1.0 end as x
    from answers
),

psu_sums as (
    select
        metric,
        league_code,
        school_level,
        school_code,
        county_code,
        any_value(stratum_schools) as stratum_schools,
        count(*) as n,
        marts.exact_sum(weight * y) as sum_wy,
        marts.exact_sum(weight * x) as sum_wx,
        marts.exact_sum(y) as sum_y,
        marts.exact_sum(x) as sum_x
    from answers_with_denominator
    group by metric, league_code, school_level, school_code, county_code
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
        count(distinct school_code) as schools
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
        psu_areas.stratum_schools,
        (psu_areas.sum_wy - domains.estimate * psu_areas.sum_wx) / domains.total_wx as score
    from psu_areas
    inner join domains using (area_level, area_code, metric)
),

stratum_means as (
    select
        area_level,
        area_code,
        metric,
        league_code,
        school_level,
        marts.exact_sum(score) / any_value(stratum_schools) as stratum_mean
    from psu_scores
    group by area_level, area_code, metric, league_code, school_level
),

psu_deviations as (
    select psu_scores.*, stratum_means.stratum_mean
    from psu_scores
    inner join stratum_means using (area_level, area_code, metric, league_code, school_level)
),

stratum_variances as (
    select
        area_level,
        area_code,
        metric,
        case
            when any_value(stratum_schools) > 1 then
                any_value(stratum_schools) / (any_value(stratum_schools) - 1.0)
                * (marts.exact_sum((score - stratum_mean) ^ 2)
                   + (any_value(stratum_schools) - count(*)) * any_value(stratum_mean) ^ 2)
            else marts.exact_sum(score ^ 2)
        end as variance
    from psu_deviations
    group by area_level, area_code, metric, league_code, school_level
),

teacher_cells as (
    select
        domains.area_level,
        domains.area_code,
        domains.metric,
        domains.n,
        domains.estimate,
        sqrt(marts.exact_sum(stratum_variances.variance)) as se,
        domains.estimate_unweighted,
        domains.schools
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
        case
            when metrics.source = 'school_report' then coalesce(reporting_schools.n, 0)
            else coalesce(teacher_cells.n, 0)
        end as n,
        coalesce(teacher_cells.estimate, school_cells.estimate) as estimate,
        teacher_cells.se,
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
        count(*) filter (where primary_suppressed and n >= 1) as suppressed_members
    from cells
    where source = 'teacher_survey' and area_level in ('league', 'county')
    group by area_level, parent_code, metric
),

secondary as (
    select cells.area_level, cells.area_code, cells.metric
    from cells
    inner join sibling_groups using (area_level, parent_code, metric)
    where sibling_groups.suppressed_members = 1 and cells.source = 'teacher_survey' and not cells.primary_suppressed
    qualify row_number() over (
        partition by cells.area_level, cells.parent_code, cells.metric
        order by cells.n, cells.area_code
    ) = 1
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

final as (
    select
        $wave as wave,
        area_level,
        area_code,
        metric,
        case when suppression is null then estimate end as estimate,
        case when suppression is null then estimate - $z * se end as ci_low,
        case when suppression is null then estimate + $z * se end as ci_high,
        n,
        suppression is not null as suppressed,
        case when suppression is null then se end as se,
        case
            when suppression is not null or estimate is null then null
            when source = 'teacher_survey' and schools < 2 then 'caution'
            when estimate = 0 then case when se > 0 then 'caution' else 'ok' end
            when se / abs(estimate) >= $rse_caution then 'caution'
            else 'ok'
        end as reliability,
        suppression,
        case when suppression is null then estimate_unweighted end as estimate_unweighted
    from suppressed
)

select *
from final
order by area_level, area_code, metric
