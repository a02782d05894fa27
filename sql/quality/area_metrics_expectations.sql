-- One batch of the wave's area_metrics cells for the GX suite, with each metric's kind and
-- source from meta.metrics (which cells are shares, which describe teachers). Cells are
-- bucketed by their key, so a repeated cell falls in one batch. Bound: $wave, $buckets, $bucket.
with cells as (
    select *
    from marts.area_metrics
    where wave = $wave
),

described as (
    select cells.*, metrics.kind as metric_kind, metrics.source as metric_source
    from cells
    left join meta.metrics as metrics using (metric)
),

final as (
    select *
    from described
    where hash(area_level, area_code, metric) % $buckets = $bucket
)

select * from final
