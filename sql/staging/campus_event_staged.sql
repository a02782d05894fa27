-- Campus events (every keyed month at once), typed and judged against meta.column_rules.
-- Reads temp tables wave_rows and cell_violations. event_id is unique across the source: of
-- the valid rows sharing one, the first by file and row number is kept and the later ones
-- are rejected as duplicate_event_id. wave is the month of event_date (the landing key).
with source as (
    select *
    from wave_rows
),

typed as (
    select
        file,
        row_number,
        wave_key as wave,
        trim(event_id) as event_id,
        trim(school_code) as school_code,
        try_cast(trim(event_date) as date) as event_date,
        trim(kind) as kind,
        trim(organiser_level) as organiser_level,
        nullif(trim(coalesce(whitelist_item, '')), '') as whitelist_item,
        cast(try_cast(trim(in_annual_plan) as double) as integer) as in_annual_plan,
        cast(try_cast(trim(teacher_days) as double) as bigint) as teacher_days,
        json_merge_patch(
            to_json(source),
            '{"file": null, "row_number": null, "landing_file": null, "row_error": null, "wave_key": null}'
        ) as raw_json
    from source
),

located as (
    select
        typed.*,
        schools.county_code,
        counties.parent_code as league_code,
        typed.school_code <> '' and schools.school_code is null as unknown_school
    from typed
    left join ref.schools as schools on schools.school_code = typed.school_code
    left join ref.divisions as counties on counties.code = schools.county_code
),

judged as (
    select
        located.*,
        nullif(concat_ws('; ', violations.reason,
                         case when located.unknown_school then 'unknown_school' end), '') as prior_reason
    from located
    left join cell_violations as violations
        on violations.file = located.file and violations.row_number = located.row_number
),

ranked as (
    select
        *,
        row_number() over (
            partition by prior_reason is null, event_id
            order by file, row_number
        ) as event_rank
    from judged
),

final as (
    select
        * exclude (unknown_school, prior_reason, event_rank, file, row_number),
        file as source_file,
        row_number as source_row,
        case
            when prior_reason is not null then prior_reason
            when event_rank > 1 then 'duplicate_event_id'
        end as reason
    from ranked
)

select * from final
