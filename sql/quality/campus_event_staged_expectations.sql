-- One batch of the staged campus events for the GX suite: the rows whose event_id hashes to
-- $bucket of $buckets, so a repeated event_id falls in one batch. event_date is read as a
-- timestamp, the type the suite's date rule expects. Bound: $buckets, $bucket.
with source as (
    select * replace (cast(event_date as timestamp) as event_date)
    from staging.campus_event_staged
),

final as (
    select *
    from source
    where hash(event_id) % $buckets = $bucket
)

select * from final
