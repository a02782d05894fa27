-- One batch of the staged campus events for the GX suite: the rows whose event_id hashes to
-- $bucket of $buckets, so a repeated event_id falls in one batch; all months when $wave is
-- null, else the month $wave. event_date is read as a timestamp, the type the suite's date
-- rule expects. Bound: $wave, $buckets, $bucket.
with source as (
    select * replace (cast(event_date as timestamp) as event_date)
    from staging.campus_event_staged
    where $wave is null or wave = $wave
),

final as (
    select *
    from source
    where hash(event_id) % $buckets = $bucket
)

select * from final
