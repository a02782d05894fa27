-- quality.run_failures: record one failed run. Bound: $run_id, $job_name, $partition_key,
-- $failed_at, $step, $message, $max_length. The same run recorded twice (the sensor re-evaluated,
-- or the runner and the sensor both saw it) stays one row.
with failure as (
    select
        $run_id as run_id,
        $job_name as job_name,
        $partition_key as partition_key,
        cast($failed_at as timestamp) as failed_at,
        $step as step,
        meta.bounded_reason($message, $max_length) as message
),

new_failure as (
    select failure.*
    from failure
    where not exists (select 1 from quality.run_failures as recorded where recorded.run_id = failure.run_id)
)

insert into quality.run_failures
select run_id, job_name, partition_key, failed_at, step, message, cast(now() as timestamp) as recorded_at
from new_failure
