-- Published teacher cells resting on fewer than $min_n respondents.
select area_metrics.wave, area_metrics.area_level, area_metrics.area_code, area_metrics.metric, area_metrics.n
from marts.area_metrics
inner join meta.metrics as metrics on metrics.metric = area_metrics.metric
where metrics.source = 'teacher_survey' and not area_metrics.suppressed and area_metrics.n < $min_n
