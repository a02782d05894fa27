-- staging.survey_psu_sums for one wave: a row per teacher metric and PSU (school within its
-- stratum) holding the sums every estimator of area_metrics and wave_changes is built from.
-- Bound: $wave.
--
-- The metric definitions live here once. y is the metric's value per respondent; x = 1
-- except nonteaching_share (y = hours_nonteaching, x = hours_total, both non-blank).
-- hours_nonteaching = hours_cat1 + … + hours_cat5, blank when any category is blank: a
-- partial sum would understate the burden. Blank values drop out (UNPIVOT skips NULLs).
-- Sums: n, Σy, Σx (unweighted), Σw·y, Σw·x, Σw, and the second moments Σw·y², Σw·x·y,
-- Σw·x² for the design effect. Every sum is marts.exact_sum, so re-runs give identical bits.
with survey as (
    select
        staged.*,
        staged.hours_cat1 + staged.hours_cat2 + staged.hours_cat3 + staged.hours_cat4 + staged.hours_cat5
            as hours_nonteaching,
        design.weight
    from staging.teacher_survey_staged as staged
    inner join staging.survey_design as design
        on design.wave = staged.wave
        and design.league_code = staged.league_code
        and design.school_level = staged.school_level
        and design.school_code = staged.school_code
    where staged.wave = $wave
),

indicators as (
    select
        league_code,
        school_level,
        school_code,
        county_code,
        weight,
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
    from survey
),

answers as (
    unpivot indicators
    on columns(* exclude (league_code, school_level, school_code, county_code, weight, ratio_denominator))
    into name metric value y
),

answers_with_denominator as (
    select
        answers.*,
        case when metric = 'nonteaching_share' then ratio_denominator else 1.0 end as x
    from answers
),

final as (
    select
        $wave as wave,
        metric,
        league_code,
        school_level,
        school_code,
        any_value(county_code) as county_code,
        count(*) as n,
        marts.exact_sum(y) as sum_y,
        marts.exact_sum(x) as sum_x,
        marts.exact_sum(weight * y) as sum_wy,
        marts.exact_sum(weight * x) as sum_wx,
        marts.exact_sum(weight) as sum_w,
        marts.exact_sum(weight * y * y) as sum_wyy,
        marts.exact_sum(weight * x * y) as sum_wxy,
        marts.exact_sum(weight * x * x) as sum_wxx
    from answers_with_denominator
    where x is not null
    group by metric, league_code, school_level, school_code
)

select *
from final
order by metric, league_code, school_level, school_code
