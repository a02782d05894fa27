-- marts.policy_breaches: the one evaluator of ref.policy_rules (data/reference/policy_rules.csv)
-- over staging.campus_event_staged. Nothing here names a rule: a rule counts the events of its
-- kinds and organiser levels dated within its effective range, and its measure (a closed
-- vocabulary, pipelines/catalogue/policy.py) says what of an event counts:
--   count                each event counts 1
--   same_whitelist_item  each event with a white-list item counts 1, per item
--   without_whitelist    each event without a white-list item counts 1
--   outside_plan         each event with in_annual_plan = 0 counts 1
--   teacher_days         the event's teacher_days (aggregate 'max': the longest one)
-- Per school and period (calendar year or semester, meta.period_key) the counts are summed
-- (or maxed) per group (the white-list item, else one group); observed is the largest group,
-- and the school breaches when observed > limit. breaches = events beyond the cap (for 'max',
-- the events over the limit). Of versions of one rule breaching in one period, the latest wins.
with rules as (
    select *
    from ref.policy_rules
),

events as (
    select *
    from staging.campus_event_staged
),

matched as (
    select
        rules.rule_id,
        rules.effective_from,
        rules.aggregate,
        rules."limit",
        events.school_code,
        events.county_code,
        events.league_code,
        events.event_date,
        meta.period_key(rules.period, events.event_date) as period,
        case when rules.measure = 'same_whitelist_item' then events.whitelist_item end as item_group,
        case rules.measure
            when 'count' then 1
            when 'same_whitelist_item' then case when events.whitelist_item is not null then 1 else 0 end
            when 'without_whitelist' then case when events.whitelist_item is null then 1 else 0 end
            when 'outside_plan' then case when events.in_annual_plan = 0 then 1 else 0 end
            when 'teacher_days' then coalesce(events.teacher_days, 0)
        end as value
    from rules
    inner join events
        on list_contains(rules.kinds, events.kind)
        and list_contains(rules.organiser_levels, events.organiser_level)
        and events.event_date >= rules.effective_from
        and (rules.effective_to is null or events.event_date <= rules.effective_to)
),

grouped as (
    select
        rule_id,
        effective_from,
        aggregate,
        "limit",
        school_code,
        county_code,
        league_code,
        period,
        item_group,
        case when aggregate = 'max' then max(value) else sum(value) end as observed,
        case
            when aggregate = 'max' then count(*) filter (where value > "limit")
            else greatest(sum(value) - "limit", 0)
        end as breaches,
        case
            when aggregate = 'max' then min(event_date) filter (where value > "limit")
            else min(event_date) filter (where value > 0)
        end as first_event_date
    from matched
    group by rule_id, effective_from, aggregate, "limit", school_code, county_code, league_code, period, item_group
),

per_school as (
    select
        rule_id,
        effective_from,
        "limit",
        school_code,
        county_code,
        league_code,
        period,
        max(observed) as observed,
        sum(breaches) as breaches,
        min(first_event_date) filter (where observed > "limit") as first_event_date
    from grouped
    group by rule_id, effective_from, "limit", school_code, county_code, league_code, period
),

final as (
    select
        rule_id,
        school_code,
        period,
        county_code,
        league_code,
        cast(observed as bigint) as observed,
        "limit",
        cast(breaches as bigint) as breaches,
        first_event_date,
        effective_from
    from per_school
    where observed > "limit"
    qualify row_number() over (partition by rule_id, school_code, period order by effective_from desc) = 1
)

select * from final
order by rule_id, period, school_code
