-- marts.inspection_target: the list's "inspection items down by at least 50%", per area
-- and wave, from the school-reported inspections per school of marts.area_metrics (one
-- definition of the figure). Bound: $baseline_wave ('' = the earliest wave with school
-- reports), $target. reduction_pct = 1 − per_school / baseline_per_school, NULL where the
-- baseline is missing or 0; it is compared with the target at 12 decimals so that an exact
-- halving computed through floating-point averages counts as met.
with per_school as (
    select area_level, area_code, wave, estimate as inspections_per_school, n as n_schools
    from marts.area_metrics
    where metric = 'school_inspections_per_school'
),

baseline as (
    select coalesce(nullif($baseline_wave, ''), min(wave) filter (where inspections_per_school is not null))
        as baseline_wave
    from per_school
),

compared as (
    select
        current_wave.area_level,
        current_wave.area_code,
        current_wave.wave,
        baseline.baseline_wave,
        current_wave.inspections_per_school,
        baseline_wave.inspections_per_school as baseline_per_school,
        1 - current_wave.inspections_per_school / nullif(baseline_wave.inspections_per_school, 0) as reduction_pct,
        current_wave.n_schools,
        baseline_wave.n_schools as baseline_n_schools
    from per_school as current_wave
    cross join baseline
    left join per_school as baseline_wave
        on baseline_wave.area_level = current_wave.area_level
        and baseline_wave.area_code = current_wave.area_code
        and baseline_wave.wave = baseline.baseline_wave
),

final as (
    select
        area_level,
        area_code,
        wave,
        baseline_wave,
        inspections_per_school,
        baseline_per_school,
        reduction_pct,
        round(reduction_pct, 12) >= $target as target_met,
        n_schools,
        baseline_n_schools
    from compared
)

select *
from final
order by area_level, area_code, wave
