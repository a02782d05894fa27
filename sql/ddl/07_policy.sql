-- Policy caps (contract section 11). Period keys: a calendar year is `YYYY`; a semester is
-- `YYYY-YYYY-1` (Aug–Jan, the first semester of a school year) or `YYYY-YYYY-2` (Feb–Jul).
create or replace macro meta.semester_key(d) as
    case
        when month(d) >= 8 then format('{}-{}-1', year(d), year(d) + 1)
        when month(d) = 1 then format('{}-{}-1', year(d) - 1, year(d))
        else format('{}-{}-2', year(d) - 1, year(d))
    end;

create or replace macro meta.period_key(period, d) as
    case period when 'year' then cast(year(d) as varchar) when 'semester' then meta.semester_key(d) end;

-- The first month (`YYYY-MM`) of a period key, so a period sorts among the survey waves.
create or replace macro meta.period_start(period) as
    case
        when length(period) = 4 then period || '-01'
        when right(period, 1) = '1' then left(period, 4) || '-08'
        else substr(period, 6, 4) || '-02'
    end;

-- Per school, rule and period where the rule's cap is exceeded (sql/marts/policy_breaches.sql).
-- Institutions, not people: school codes may be shown.
create table if not exists marts.policy_breaches (
    rule_id varchar,
    school_code varchar,
    period varchar,
    county_code varchar,
    league_code varchar,
    observed bigint,
    "limit" bigint,
    breaches bigint,
    first_event_date date,
    effective_from date
);

create table if not exists marts.policy_compliance (
    rule_id varchar,
    period varchar,
    area_level varchar,
    area_code varchar,
    schools_observed bigint,
    schools_breaching bigint,
    breaches bigint,
    share_breaching double
);

-- Analyst-owned: the pipeline inserts new breaches as open, keeps observed up to date and
-- closes vanished ones as resolved (status_by = 'pipeline'); status, assignee and note set
-- through `jianfu cases set` (status_by = 'analyst') are never overwritten. Never deleted.
create table if not exists quality.breach_cases (
    rule_id varchar,
    school_code varchar,
    period varchar,
    observed bigint,
    "limit" bigint,
    first_event_date date,
    status varchar,
    assignee varchar,
    note varchar,
    updated_at timestamp,
    status_by varchar,
    in_data boolean,
    primary key (rule_id, school_code, period)
);

-- Cross-checks of the event register against the other sources, per school and wave.
create table if not exists marts.event_cross_checks (
    wave varchar,
    school_code varchar,
    county_code varchar,
    league_code varchar,
    check_name varchar,
    reported double,
    events bigint,
    n_respondents bigint,
    flagged boolean
);
