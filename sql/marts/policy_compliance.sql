-- marts.policy_compliance: per rule, period and area (county, league, region), the schools
-- observed (with at least one accepted campus event dated in the period and within the rule's
-- effective range), those breaching (marts.policy_breaches) and the events beyond the caps.
-- No suppression: schools are institutions, not people.
with observed as (
    select distinct
        rules.rule_id,
        meta.period_key(rules.period, events.event_date) as period,
        events.school_code,
        events.county_code,
        events.league_code
    from ref.policy_rules as rules
    inner join staging.campus_event_staged as events
        on events.event_date >= rules.effective_from
        and (rules.effective_to is null or events.event_date <= rules.effective_to)
),

schools as (
    select
        observed.*,
        breaches.school_code is not null as breaching,
        coalesce(breaches.breaches, 0) as breaches
    from observed
    left join marts.policy_breaches as breaches
        on breaches.rule_id = observed.rule_id
        and breaches.period = observed.period
        and breaches.school_code = observed.school_code
),

region as (
    select code
    from ref.divisions
    where level = 'region'
),

areas as (
    select 'county' as area_level, county_code as area_code, * exclude (county_code, league_code)
    from schools
    union all
    select 'league' as area_level, league_code as area_code, * exclude (county_code, league_code)
    from schools
    union all
    select 'region' as area_level, region.code as area_code, schools.* exclude (county_code, league_code)
    from schools
    cross join region
),

final as (
    select
        rule_id,
        period,
        area_level,
        area_code,
        count(distinct school_code) as schools_observed,
        count(distinct school_code) filter (where breaching) as schools_breaching,
        sum(breaches) as breaches,
        count(distinct school_code) filter (where breaching) / count(distinct school_code) as share_breaching
    from areas
    group by all
)

select * from final
order by rule_id, period, area_level, area_code
