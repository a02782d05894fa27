-- School report rows of one wave, typed and judged against meta.column_rules.
-- Reads temp tables wave_rows and cell_violations. Of a school's valid rows in the wave
-- the latest reported_at wins; the earlier ones are rejected as superseded.
with source as (
    select *
    from wave_rows
),

typed as (
    select
        file,
        row_number,
        trim(wave) as wave,
        trim(school_code) as school_code,
        try_cast(trim(reported_at) as timestamp) as reported_at,
        cast(try_cast(trim(n_teachers_on_staff) as double) as bigint) as n_teachers_on_staff,
        cast(try_cast(trim(n_inspections) as double) as bigint) as n_inspections,
        cast(try_cast(trim(n_inspections_unapproved) as double) as bigint) as n_inspections_unapproved,
        cast(try_cast(trim(n_campus_events) as double) as bigint) as n_campus_events,
        cast(try_cast(trim(n_campus_events_unlisted) as double) as bigint) as n_campus_events_unlisted,
        cast(try_cast(trim(n_forms_requests) as double) as bigint) as n_forms_requests,
        cast(try_cast(trim(n_forms_duplicate) as double) as bigint) as n_forms_duplicate,
        cast(try_cast(trim(n_teachers_seconded) as double) as bigint) as n_teachers_seconded,
        cast(try_cast(trim(n_seconded_over_6m) as double) as bigint) as n_seconded_over_6m,
        cast(try_cast(trim(n_nonteaching_meetings) as double) as bigint) as n_nonteaching_meetings,
        cast(try_cast(trim(n_social_exams) as double) as bigint) as n_social_exams,
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
            partition by prior_reason is null, school_code
            order by reported_at desc, file desc, row_number desc
        ) as report_rank
    from judged
),

final as (
    select
        * exclude (unknown_school, prior_reason, report_rank, file, row_number),
        file as source_file,
        row_number as source_row,
        case
            when prior_reason is not null then prior_reason
            when report_rank > 1 then 'superseded'
        end as reason
    from ranked
)

select * from final
