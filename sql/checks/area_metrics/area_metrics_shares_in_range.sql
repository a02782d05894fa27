-- Shares outside [0, 1]; felt_net, a difference of two shares, outside [-1, 1].
select area_metrics.wave, area_metrics.area_level, area_metrics.area_code, area_metrics.metric, area_metrics.estimate
from marts.area_metrics
inner join meta.metrics as metrics on metrics.metric = area_metrics.metric
where metrics.kind = 'share'
    and area_metrics.estimate not between case when area_metrics.metric = 'felt_net' then -1 else 0 end and 1
