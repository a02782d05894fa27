-- Landing rows keep every contract column as text. file is the row's table (`<file>#<sheet>` for
-- workbooks), landing_file the file in landing.files, row_error the reader's verdict on the row
-- (malformed_row), wave_key the wave the row belongs to (null: missing, malformed or future).
create table if not exists landing.files (
    source varchar,
    file varchar,
    sha256 varchar,
    size_bytes bigint,
    rows_read bigint,
    status varchar,
    error varchar,
    missing_columns varchar[],
    rows_blank bigint,
    reader_version varchar,
    primary key (source, file)
);

alter table landing.files add column if not exists missing_columns varchar[];
alter table landing.files add column if not exists rows_blank bigint;
alter table landing.files add column if not exists reader_version varchar;

-- generated:landing_teacher_survey
create table if not exists landing.teacher_survey_rows (
    file varchar, row_number bigint, landing_file varchar, row_error varchar, wave_key varchar,
    wave varchar, response_id varchar, school_code varchar, school_level varchar,
    submitted_at varchar, hours_total varchar, hours_teaching varchar,
    hours_teaching_related varchar, hours_cat1 varchar, hours_cat2 varchar, hours_cat3 varchar,
    hours_cat4 varchar, hours_cat5 varchar, n_inspections varchar, n_forms varchar,
    n_app_tasks varchar, n_nonteaching_meetings varchar, n_invigilations varchar,
    days_seconded varchar, training_hours_nonteaching varchar, item_01 varchar, item_02 varchar,
    item_03 varchar, item_04 varchar, item_05 varchar, item_06 varchar, item_07 varchar,
    item_08 varchar, item_09 varchar, item_10 varchar, item_11 varchar, item_12 varchar,
    item_13 varchar, item_14 varchar, item_15 varchar, item_16 varchar, item_17 varchar,
    item_18 varchar, item_19 varchar, item_20 varchar, item_21 varchar, item_22 varchar,
    item_23 varchar, item_24 varchar, item_25 varchar, item_26 varchar, felt_change varchar,
    focus_on_teaching varchar, teacher_id varchar, seconds_taken varchar
);
-- /generated:landing_teacher_survey

alter table landing.teacher_survey_rows add column if not exists seconds_taken varchar;

-- generated:landing_school_report
create table if not exists landing.school_report_rows (
    file varchar, row_number bigint, landing_file varchar, row_error varchar, wave_key varchar,
    wave varchar, school_code varchar, reported_at varchar, n_teachers_on_staff varchar,
    n_inspections varchar, n_inspections_unapproved varchar, n_campus_events varchar,
    n_campus_events_unlisted varchar, n_forms_requests varchar, n_forms_duplicate varchar,
    n_teachers_seconded varchar, n_seconded_over_6m varchar, n_nonteaching_meetings varchar,
    n_social_exams varchar
);
-- /generated:landing_school_report

-- generated:landing_campus_event
create table if not exists landing.campus_event_rows (
    file varchar, row_number bigint, landing_file varchar, row_error varchar, wave_key varchar,
    event_id varchar, school_code varchar, event_date varchar, kind varchar,
    organiser_level varchar, whitelist_item varchar, in_annual_plan varchar, teacher_days varchar
);
-- /generated:landing_campus_event
