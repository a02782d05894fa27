-- One batch of the wave's staged school reports for the GX suite: the rows whose
-- school_code hashes to $bucket of $buckets, so a school reported twice falls in one batch.
-- Bound: $wave, $buckets, $bucket.
with source as (
    select *
    from staging.school_report_staged
    where wave = $wave
),

final as (
    select *
    from source
    where hash(school_code) % $buckets = $bucket
)

select * from final
