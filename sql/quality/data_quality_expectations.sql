-- marts.data_quality for the GX suite, with rows_accounted = rows_accepted + rows_rejected
-- so that the accounting identity is a GX column-pair expectation. Bound: $buckets, $bucket.
with source as (
    select *
    from marts.data_quality
),

final as (
    select *, rows_accepted + rows_rejected as rows_accounted
    from source
    where hash(wave, source) % $buckets = $bucket
)

select * from final
