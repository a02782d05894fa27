create table if not exists staging.teacher_survey_staged (
    wave varchar, response_id varchar, school_code varchar, school_level varchar,
    submitted_at timestamp,
    hours_total double, hours_teaching double, hours_teaching_related double,
    hours_cat1 double, hours_cat2 double, hours_cat3 double, hours_cat4 double, hours_cat5 double,
    n_inspections bigint, n_forms bigint, n_app_tasks bigint, n_nonteaching_meetings bigint,
    n_invigilations bigint, days_seconded bigint, training_hours_nonteaching double,
    item_01 integer, item_02 integer, item_03 integer, item_04 integer, item_05 integer,
    item_06 integer, item_07 integer, item_08 integer, item_09 integer, item_10 integer,
    item_11 integer, item_12 integer, item_13 integer, item_14 integer, item_15 integer,
    item_16 integer, item_17 integer, item_18 integer, item_19 integer, item_20 integer,
    item_21 integer, item_22 integer, item_23 integer, item_24 integer, item_25 integer,
    item_26 integer,
    felt_change integer, focus_on_teaching integer,
    teacher_pseudonym varchar,
    county_code varchar, league_code varchar,
    source_file varchar, source_row bigint
);

alter table staging.teacher_survey_staged add column if not exists seconds_taken bigint;

create table if not exists staging.school_report_staged (
    wave varchar, school_code varchar, reported_at timestamp,
    n_teachers_on_staff bigint, n_inspections bigint, n_inspections_unapproved bigint,
    n_campus_events bigint, n_campus_events_unlisted bigint, n_forms_requests bigint,
    n_forms_duplicate bigint, n_teachers_seconded bigint, n_seconded_over_6m bigint,
    n_nonteaching_meetings bigint, n_social_exams bigint,
    county_code varchar, league_code varchar,
    source_file varchar, source_row bigint
);

-- Campus events (contract section 11): wave is the month of event_date, the landing key.
create table if not exists staging.campus_event_staged (
    wave varchar, event_id varchar, school_code varchar, event_date date, kind varchar,
    organiser_level varchar, whitelist_item varchar, in_annual_plan integer, teacher_days bigint,
    county_code varchar, league_code varchar,
    source_file varchar, source_row bigint
);

create table if not exists quarantine.rejected_rows (
    source varchar,
    wave varchar,
    file varchar,
    row_number bigint,
    reason varchar,
    raw_json varchar
);

create table if not exists quarantine.rejected_files (
    source varchar,
    file varchar,
    reason varchar
);

-- The wave's PSUs (schools within strata) with the post-stratification constants, and per
-- metric and PSU the sums the estimators are built from: marts.area_metrics and
-- marts.wave_changes read them, so the variance of a change can count the schools that
-- recur. They hold per-school figures, so they sit in staging beside the rows they come
-- from, never among the published marts.
create table if not exists staging.survey_design (
    wave varchar,
    league_code varchar,
    school_level varchar,
    school_code varchar,
    county_code varchar,
    respondents bigint,
    stratum_respondents bigint,
    stratum_schools bigint,
    stratum_size_sq bigint,
    stratum_population bigint,
    weight double
);

create table if not exists staging.survey_psu_sums (
    wave varchar,
    metric varchar,
    league_code varchar,
    school_level varchar,
    school_code varchar,
    county_code varchar,
    n bigint,
    sum_y double,
    sum_x double,
    sum_wy double,
    sum_wx double,
    sum_w double,
    sum_wyy double,
    sum_wxy double,
    sum_wxx double
);
