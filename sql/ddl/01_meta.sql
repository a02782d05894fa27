create schema if not exists meta;
create schema if not exists ref;
create schema if not exists landing;
create schema if not exists staging;
create schema if not exists quarantine;
create schema if not exists marts;

create table if not exists meta.column_rules (
    source varchar,
    column_name varchar,
    position integer,
    kind varchar,
    required boolean,
    min_value double,
    max_value double,
    allowed_values varchar[],
    pattern varchar,
    unique_in_wave boolean,
    references_school boolean,
    pseudonymised boolean
);

create table if not exists meta.metrics (
    metric varchar,
    source varchar,
    kind varchar,
    polarity varchar,
    label_zh varchar,
    label_en varchar,
    unit_zh varchar,
    unit_en varchar
);

create table if not exists meta.metric_columns (
    metric varchar,
    column_name varchar
);

-- The wave a landing row belongs to: its trimmed wave when it matches the rule table's pattern
-- and is not later than $current_wave (the month of the run); null otherwise.
create or replace macro meta.wave_key(wave, pattern, current_wave) as
    case
        when regexp_full_match(trim(wave), pattern) and trim(wave) <= current_wave then trim(wave)
    end;

-- The month (`YYYY-MM`) of a `YYYY-MM-DD` date text, null when it is not a valid date: a
-- campus event's landing key (its source is dated, not waved).
create or replace macro meta.date_month(date_text, pattern) as
    case
        when regexp_full_match(trim(date_text), pattern) and try_cast(trim(date_text) as date) is not null
            then left(trim(date_text), 7)
    end;

-- What each wave's staging and marts were last built from (sql/ingest/wave_inputs.sql), so a
-- run restages exactly the waves whose inputs changed.
create table if not exists meta.wave_state (
    wave varchar primary key,
    inputs_digest varchar,
    built_at timestamp
);

create table if not exists meta.run_state (
    scope varchar primary key,
    inputs_digest varchar,
    built_at timestamp
);

-- A rejection reason as stored: at most max_length characters, so no reason can carry a cell.
create or replace macro meta.bounded_reason(reason, max_length) as
    case when length(reason) > max_length then left(reason, max_length - 1) || '…' else reason end;
