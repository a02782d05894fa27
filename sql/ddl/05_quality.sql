create schema if not exists quality;

create table if not exists marts.data_quality (
    wave varchar,
    source varchar,
    rows_received bigint,
    rows_accepted bigint,
    rows_rejected bigint,
    schools_expected bigint,
    schools_reporting bigint,
    completeness double,
    schools_on_time bigint,
    on_time_share double
);

alter table marts.data_quality add column if not exists schools_on_time bigint;
alter table marts.data_quality add column if not exists on_time_share double;

create table if not exists marts.reporting_completeness (
    wave varchar,
    area_level varchar,
    area_code varchar,
    schools_expected bigint,
    schools_reporting bigint,
    completeness double,
    schools_on_time bigint,
    on_time_share double,
    due_date date
);

create table if not exists marts.outliers (
    wave varchar,
    school_code varchar,
    county_code varchar,
    league_code varchar,
    metric varchar,
    value double,
    method varchar,
    score double,
    threshold double,
    follow_up_status varchar,
    follow_up_note varchar,
    reference_n bigint,
    reference_median double,
    reference_mad double
);

-- Analysts record what they found about an outlier here (status e.g. 'open', 'confirmed',
-- 'corrected', 'dismissed'); marts.outliers joins it on (wave, school_code, metric), so a
-- re-run keeps the status. The latest row per key wins.
create table if not exists quality.outlier_follow_up (
    wave varchar,
    school_code varchar,
    metric varchar,
    status varchar,
    note varchar,
    updated_at timestamp default current_timestamp
);

create table if not exists marts.source_consistency (
    wave varchar,
    area_level varchar,
    area_code varchar,
    school_reported_inspections double,
    teacher_mean_inspections double,
    ratio double,
    flagged boolean,
    n_respondents bigint
);
