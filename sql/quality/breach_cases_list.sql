-- The cases `jianfu cases list` prints and the reports show, with the school's county and
-- league. Bound: $status and $league (null: any).
with cases as (
    select *
    from quality.breach_cases
),

located as (
    select
        cases.*,
        schools.school_name,
        areas.county_code,
        areas.league_code
    from cases
    left join ref.schools as schools on schools.school_code = cases.school_code
    left join ref.school_areas as areas on areas.school_code = cases.school_code
),

final as (
    select *
    from located
    where ($status is null or status = $status)
        and ($league is null or league_code = $league)
)

select
    rule_id, school_code, school_name, county_code, league_code, period, observed, "limit",
    first_event_date, status, assignee, note, updated_at, status_by, in_data
from final
order by league_code, county_code, school_code, rule_id, period
