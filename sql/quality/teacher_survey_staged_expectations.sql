-- One batch of the wave's staged teacher rows for the GX suite: the rows whose response_id
-- hashes to $bucket of $buckets, so a repeated response_id always falls in one batch.
-- Bound: $wave, $buckets, $bucket.
with source as (
    select *
    from staging.teacher_survey_staged
    where wave = $wave
),

final as (
    select *
    from source
    where hash(response_id) % $buckets = $bucket
)

select * from final
