-- The first rule a landing cell breaks (`missing:<column>`, `malformed:<column>`, ...), or null:
-- one macro per rule kind, meta.<kind>_violation(raw, column_name), that the generated
-- sql/staging/<source>_typed.sql calls once per cell with the landing text. The rule r is read from
-- variable staging_rules (sql/staging/column_rules.sql: meta.column_rules, so a changed range or code
-- list applies without regenerating, with the run's unreadable values, text_max_length and current_wave);
-- a constant, so DuckDB folds it into each check. The number and integer checks first pass a cell the
-- rule plainly accepts (its flags numeric_fast and codes_fast), which no later branch would reject.
create or replace macro meta.blank_violation(r) as
    case when r.required then 'missing:' || r.column_name end;

create or replace macro meta.text_check(v, r) as
    case
        when v = '' then meta.blank_violation(r)
        when list_contains(r.unreadable, v) or length(v) > r.text_max_length then 'malformed:' || r.column_name
        when len(r.allowed_values) > 0 and not list_contains(r.allowed_values, v) then 'not_allowed:' || r.column_name
    end;

create or replace macro meta.text_violation(raw, column_name) as
    meta.text_check(trim(coalesce(raw, '')), getvariable('staging_rules')[column_name]);

create or replace macro meta.wave_check(v, r) as
    case
        when v = '' then meta.blank_violation(r)
        when list_contains(r.unreadable, v) or not regexp_full_match(v, r.pattern) then 'malformed:' || r.column_name
        when v > r.current_wave then 'future_wave'
    end;

create or replace macro meta.wave_violation(raw, column_name) as
    meta.wave_check(trim(coalesce(raw, '')), getvariable('staging_rules')[column_name]);

create or replace macro meta.date_check(v, r) as
    case
        when v = '' then meta.blank_violation(r)
        when list_contains(r.unreadable, v) or not regexp_full_match(v, r.pattern) or try_cast(v as date) is null
            then 'malformed:' || r.column_name
        when left(v, 7) > r.current_wave then 'future_date'
    end;

create or replace macro meta.date_violation(raw, column_name) as
    meta.date_check(trim(coalesce(raw, '')), getvariable('staging_rules')[column_name]);

create or replace macro meta.timestamp_check(v, r) as
    case
        when v = '' then meta.blank_violation(r)
        when list_contains(r.unreadable, v) or try_cast(v as timestamp) is null then 'malformed:' || r.column_name
    end;

create or replace macro meta.timestamp_violation(raw, column_name) as
    meta.timestamp_check(trim(coalesce(raw, '')), getvariable('staging_rules')[column_name]);

create or replace macro meta.number_check(v, n, r) as
    case
        when r.numeric_fast and isfinite(n) and n >= coalesce(r.min_value, '-inf') and n <= coalesce(r.max_value, 'inf')
            then null
        when v = '' then meta.blank_violation(r)
        when list_contains(r.unreadable, v) or n is null or not isfinite(n) then 'malformed:' || r.column_name
        when len(r.allowed_values) > 0 and not list_contains(r.allowed_values, v) then 'not_allowed:' || r.column_name
        when n < r.min_value or n > r.max_value then 'out_of_range:' || r.column_name
    end;

create or replace macro meta.number_violation(raw, column_name) as
    meta.number_check(
        trim(coalesce(raw, '')), try_cast(trim(raw) as double), getvariable('staging_rules')[column_name]
    );

create or replace macro meta.integer_check(v, n, r) as
    case
        when r.codes_fast and list_contains(r.allowed_values, v) then null
        when r.numeric_fast and isfinite(n) and n = round(n) and try_cast(n as bigint) is not null
            and n >= coalesce(r.min_value, '-inf') and n <= coalesce(r.max_value, 'inf') then null
        when v = '' then meta.blank_violation(r)
        when list_contains(r.unreadable, v) or n is null or not isfinite(n) or n <> round(n)
            or try_cast(n as bigint) is null then 'malformed:' || r.column_name
        when len(r.allowed_values) > 0 and not list_contains(r.allowed_values, cast(try_cast(n as bigint) as varchar))
            then 'not_allowed:' || r.column_name
        when n < r.min_value or n > r.max_value then 'out_of_range:' || r.column_name
    end;

create or replace macro meta.integer_violation(raw, column_name) as
    meta.integer_check(
        trim(coalesce(raw, '')), try_cast(trim(raw) as double), getvariable('staging_rules')[column_name]
    );

-- generated:staged_teacher_survey
create table if not exists staging.teacher_survey_staged (
    wave varchar, response_id varchar, school_code varchar, school_level varchar,
    submitted_at timestamp, hours_total double, hours_teaching double,
    hours_teaching_related double, hours_cat1 double, hours_cat2 double, hours_cat3 double,
    hours_cat4 double, hours_cat5 double, n_inspections bigint, n_forms bigint, n_app_tasks bigint,
    n_nonteaching_meetings bigint, n_invigilations bigint, days_seconded bigint,
    training_hours_nonteaching double, item_01 integer, item_02 integer, item_03 integer,
    item_04 integer, item_05 integer, item_06 integer, item_07 integer, item_08 integer,
    item_09 integer, item_10 integer, item_11 integer, item_12 integer, item_13 integer,
    item_14 integer, item_15 integer, item_16 integer, item_17 integer, item_18 integer,
    item_19 integer, item_20 integer, item_21 integer, item_22 integer, item_23 integer,
    item_24 integer, item_25 integer, item_26 integer, felt_change integer,
    focus_on_teaching integer, teacher_pseudonym varchar, seconds_taken bigint, county_code varchar,
    league_code varchar, source_file varchar, source_row bigint
);
-- /generated:staged_teacher_survey

alter table staging.teacher_survey_staged add column if not exists seconds_taken bigint;

-- generated:staged_school_report
create table if not exists staging.school_report_staged (
    wave varchar, school_code varchar, reported_at timestamp, n_teachers_on_staff bigint,
    n_inspections bigint, n_inspections_unapproved bigint, n_campus_events bigint,
    n_campus_events_unlisted bigint, n_forms_requests bigint, n_forms_duplicate bigint,
    n_teachers_seconded bigint, n_seconded_over_6m bigint, n_nonteaching_meetings bigint,
    n_social_exams bigint, county_code varchar, league_code varchar, source_file varchar,
    source_row bigint
);
-- /generated:staged_school_report

-- Campus events (contract section 11): wave is the month of event_date, the landing key.
-- generated:staged_campus_event
create table if not exists staging.campus_event_staged (
    wave varchar, event_id varchar, school_code varchar, event_date date, kind varchar,
    organiser_level varchar, whitelist_item varchar, in_annual_plan integer, teacher_days bigint,
    county_code varchar, league_code varchar, source_file varchar, source_row bigint
);
-- /generated:staged_campus_event

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
