-- Respondent-quality flags on accepted teacher rows (pipelines/platforms/flags.py): one row per
-- flag a row carries, and per wave and flag kind how many accepted rows carry it. Flags never
-- remove a row from the estimates unless its kind is excluded by configuration.
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

alter table marts.respondent_quality add column if not exists rows_excluded bigint;

-- Staged rows of a flag kind the analyst excluded (mappings/respondent_flags.yaml), kept so that
-- the next judgement of the wave starts from every accepted row again.
create table if not exists quality.excluded_rows as
select *, null::varchar as excluded_flag from staging.teacher_survey_staged limit 0;
