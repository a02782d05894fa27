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
