-- Respondent-quality flags on accepted teacher rows (pipelines/platforms/flags.py): one row per
-- flag a row carries, and per wave and flag kind how many accepted rows carry it. Flags never
-- remove a row from staging or from the estimates.
create table if not exists quality.respondent_flags (
    wave varchar,
    response_id varchar,
    source_file varchar,
    source_row bigint,
    flag varchar
);

create table if not exists marts.respondent_quality (
    wave varchar,
    flag varchar,
    rows_flagged bigint,
    rows_accepted bigint,
    share_flagged double
);
