-- The marts.area_metrics cells the report site draws: the metrics named in $metrics, for
-- every area and wave, rounded to $digits decimals (the pages show at most three). Only
-- published aggregates and their suppression flags leave here.
select
    wave,
    area_level,
    area_code,
    metric,
    round(estimate, $digits) as estimate,
    round(ci_low, $digits) as ci_low,
    round(ci_high, $digits) as ci_high,
    n,
    suppressed,
    reliability
from marts.area_metrics
where list_contains($metrics, metric)
order by wave, area_level, area_code, metric
