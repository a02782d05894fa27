-- Rows whose baseline is not the table's one baseline, or whose baseline wave shows a reduction.
select area_level, area_code, wave, baseline_wave, reduction_pct
from marts.inspection_target
where baseline_wave <> (select min(baseline_wave) from marts.inspection_target)
    or (wave = baseline_wave and reduction_pct <> 0)
