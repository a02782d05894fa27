-- Published intervals that do not hold their estimate.
select wave, area_level, area_code, metric, estimate, ci_low, ci_high
from marts.area_metrics
where ci_low is not null and not (ci_low <= estimate and estimate <= ci_high)
