-- The report's schools breaching a cap: marts.policy_breaches with the school's name, the
-- semester of its first breaching event (for the trend) and its case's status.
with breaches as (
    select *
    from marts.policy_breaches
),

final as (
    select
        breaches.rule_id,
        breaches.school_code,
        schools.school_name,
        breaches.county_code,
        breaches.league_code,
        breaches.period,
        breaches.observed,
        breaches."limit",
        breaches.breaches,
        breaches.first_event_date,
        meta.period_start(breaches.period) as period_start,
        meta.semester_key(breaches.first_event_date) as semester,
        meta.period_start(meta.semester_key(breaches.first_event_date)) as semester_start,
        cases.status
    from breaches
    left join ref.schools as schools using (school_code)
    left join quality.breach_cases as cases using (rule_id, school_code, period)
)

select * from final
order by league_code, county_code, school_code, rule_id, period
