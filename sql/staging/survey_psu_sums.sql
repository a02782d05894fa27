-- staging.survey_psu_sums for one wave: a row per teacher metric and PSU (school within its
-- stratum) holding the sums every estimator of area_metrics and wave_changes is built from.
-- Bound: $wave.
--
-- The metric definitions live here once. y is the metric's value per respondent; x = 1
-- except nonteaching_share (y = hours_nonteaching, x = hours_total, both non-blank).
-- hours_nonteaching = hours_cat1 + … + hours_cat5, blank when any category is blank: a
-- partial sum would understate the burden. Blank values drop out (a PSU with no value of a
-- metric has no row for it).
-- Sums: n, Σy, Σx (unweighted), Σw·y, Σw·x, Σw, and the second moments Σw·y², Σw·x·y,
-- Σw·x² for the design effect. Every sum is marts.exact_sum, so re-runs give identical bits.
-- The sums are taken wide, one pass over the wave with a struct of sums per metric (a PSU
-- group each), and only then turned into rows, one per struct: unpivoting the respondents first
-- made a row per respondent and metric (100 million at 2 million respondents) and ran out of
-- memory, and unpivoting each sum then grouping again held 1.3 million groups at 2 million.
-- With x = 1, Σx = n, Σw·x = Σw·x² = Σw and Σw·x·y = Σw·y, bit for bit.
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
        hours_total as m__hours_total,
        hours_nonteaching as m__hours_nonteaching,
        hours_cat1 as m__hours_cat1,
        hours_cat2 as m__hours_cat2,
        hours_cat3 as m__hours_cat3,
        hours_cat4 as m__hours_cat4,
        hours_cat5 as m__hours_cat5,
        case when hours_total is not null then hours_nonteaching end as m__nonteaching_share,
        case when felt_change >= 4 then 1.0 when felt_change is not null then 0.0 end as m__felt_lighter_share,
        case when felt_change <= 2 then 1.0 when felt_change is not null then 0.0 end as m__felt_heavier_share,
        case when felt_change >= 4 then 1.0 when felt_change <= 2 then -1.0 when felt_change is not null then 0.0 end
            as m__felt_net,
        case when focus_on_teaching >= 4 then 1.0 when focus_on_teaching is not null then 0.0 end as m__focus_share,
        cast(columns('^item_[0-9]{2}$') = 1 as double) as 'm__\0',
        cast(n_inspections as double) as m__n_inspections,
        cast(n_forms as double) as m__n_forms,
        cast(n_app_tasks as double) as m__n_app_tasks,
        cast(n_nonteaching_meetings as double) as m__n_nonteaching_meetings,
        cast(n_invigilations as double) as m__n_invigilations,
        cast(days_seconded as double) as m__days_seconded,
        training_hours_nonteaching as m__training_hours_nonteaching
    from survey
),

psu_totals as (
    select
        league_code,
        school_level,
        school_code,
        any_value(county_code) as county_code,
        struct_pack(
            n := count(columns('^m__(.*)$')),
            sum_y := marts.exact_sum(columns('^m__(.*)$')),
            sum_wy := marts.exact_sum(weight * columns('^m__(.*)$')),
            sum_w := marts.exact_sum(case when columns('^m__(.*)$') is not null then weight end),
            sum_wyy := marts.exact_sum(weight * columns('^m__(.*)$') * columns('^m__(.*)$'))
        ) as 'sums:\1',
        marts.exact_sum(case when m__nonteaching_share is not null then ratio_denominator end) as ratio_sum_x,
        marts.exact_sum(case when m__nonteaching_share is not null then weight * ratio_denominator end)
            as ratio_sum_wx,
        marts.exact_sum(weight * ratio_denominator * m__nonteaching_share) as ratio_sum_wxy,
        marts.exact_sum(
            case when m__nonteaching_share is not null then weight * ratio_denominator * ratio_denominator end
        ) as ratio_sum_wxx
    from indicators
    group by league_code, school_level, school_code
),

psu_metrics as (
    select
        league_code,
        school_level,
        school_code,
        county_code,
        split_part(key, ':', 2) as metric,
        sums.n,
        sums.sum_y,
        sums.sum_wy,
        sums.sum_w,
        sums.sum_wyy,
        ratio_sum_x,
        ratio_sum_wx,
        ratio_sum_wxy,
        ratio_sum_wxx
    from (
        unpivot psu_totals
        on columns('^sums:')
        into name key value sums
    )
),

final as (
    select
        $wave as wave,
        metric,
        league_code,
        school_level,
        school_code,
        county_code,
        n,
        sum_y,
        case when metric = 'nonteaching_share' then ratio_sum_x else n::double end as sum_x,
        sum_wy,
        case when metric = 'nonteaching_share' then ratio_sum_wx else sum_w end as sum_wx,
        sum_w,
        sum_wyy,
        case when metric = 'nonteaching_share' then ratio_sum_wxy else sum_wy end as sum_wxy,
        case when metric = 'nonteaching_share' then ratio_sum_wxx else sum_w end as sum_wxx
    from psu_metrics
    where n > 0
)

select *
from final
order by metric, league_code, school_level, school_code
