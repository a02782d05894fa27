-- One row per failed Dagster run (the run-failure sensor and `jianfu run` write it). message is
-- the pipeline's own one-line reason or only the error's class: never text from a landing file.
create table if not exists quality.run_failures (
    run_id varchar primary key,
    job_name varchar,
    partition_key varchar,
    failed_at timestamp,
    step varchar,
    message varchar,
    recorded_at timestamp
);
