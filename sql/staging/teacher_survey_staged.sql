-- Teacher survey rows of one wave, typed and judged against meta.column_rules.
-- Reads temp tables wave_rows (the wave's landing rows) and cell_violations
-- (sql/staging/cell_violations.sql). reason is null for an accepted row.
with source as (
    select *
    from wave_rows
),

typed as (
    select
        file,
        row_number,
        trim(wave) as wave,
        trim(response_id) as response_id,
        trim(school_code) as school_code,
        trim(school_level) as school_level,
        try_cast(trim(submitted_at) as timestamp) as submitted_at,
        try_cast(trim(hours_total) as double) as hours_total,
        try_cast(trim(hours_teaching) as double) as hours_teaching,
        try_cast(trim(hours_teaching_related) as double) as hours_teaching_related,
        try_cast(trim(hours_cat1) as double) as hours_cat1,
        try_cast(trim(hours_cat2) as double) as hours_cat2,
        try_cast(trim(hours_cat3) as double) as hours_cat3,
        try_cast(trim(hours_cat4) as double) as hours_cat4,
        try_cast(trim(hours_cat5) as double) as hours_cat5,
        cast(try_cast(trim(n_inspections) as double) as bigint) as n_inspections,
        cast(try_cast(trim(n_forms) as double) as bigint) as n_forms,
        cast(try_cast(trim(n_app_tasks) as double) as bigint) as n_app_tasks,
        cast(try_cast(trim(n_nonteaching_meetings) as double) as bigint) as n_nonteaching_meetings,
        cast(try_cast(trim(n_invigilations) as double) as bigint) as n_invigilations,
        cast(try_cast(trim(days_seconded) as double) as bigint) as days_seconded,
        try_cast(trim(training_hours_nonteaching) as double) as training_hours_nonteaching,
        cast(try_cast(trim(item_01) as double) as integer) as item_01,
        cast(try_cast(trim(item_02) as double) as integer) as item_02,
        cast(try_cast(trim(item_03) as double) as integer) as item_03,
        cast(try_cast(trim(item_04) as double) as integer) as item_04,
        cast(try_cast(trim(item_05) as double) as integer) as item_05,
        cast(try_cast(trim(item_06) as double) as integer) as item_06,
        cast(try_cast(trim(item_07) as double) as integer) as item_07,
        cast(try_cast(trim(item_08) as double) as integer) as item_08,
        cast(try_cast(trim(item_09) as double) as integer) as item_09,
        cast(try_cast(trim(item_10) as double) as integer) as item_10,
        cast(try_cast(trim(item_11) as double) as integer) as item_11,
        cast(try_cast(trim(item_12) as double) as integer) as item_12,
        cast(try_cast(trim(item_13) as double) as integer) as item_13,
        cast(try_cast(trim(item_14) as double) as integer) as item_14,
        cast(try_cast(trim(item_15) as double) as integer) as item_15,
        cast(try_cast(trim(item_16) as double) as integer) as item_16,
        cast(try_cast(trim(item_17) as double) as integer) as item_17,
        cast(try_cast(trim(item_18) as double) as integer) as item_18,
        cast(try_cast(trim(item_19) as double) as integer) as item_19,
        cast(try_cast(trim(item_20) as double) as integer) as item_20,
        cast(try_cast(trim(item_21) as double) as integer) as item_21,
        cast(try_cast(trim(item_22) as double) as integer) as item_22,
        cast(try_cast(trim(item_23) as double) as integer) as item_23,
        cast(try_cast(trim(item_24) as double) as integer) as item_24,
        cast(try_cast(trim(item_25) as double) as integer) as item_25,
        cast(try_cast(trim(item_26) as double) as integer) as item_26,
        cast(try_cast(trim(felt_change) as double) as integer) as felt_change,
        cast(try_cast(trim(focus_on_teaching) as double) as integer) as focus_on_teaching,
        nullif(trim(teacher_id), '') as teacher_pseudonym,
        cast(try_cast(trim(seconds_taken) as double) as bigint) as seconds_taken,
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

deduplicated as (
    select
        *,
        row_number() over (
            partition by prior_reason is null, response_id
            order by submitted_at, file, row_number
        ) as submission_rank
    from judged
),

final as (
    select
        * exclude (unknown_school, prior_reason, submission_rank, file, row_number),
        file as source_file,
        row_number as source_row,
        case
            when prior_reason is not null then prior_reason
            when submission_rank > 1 then 'duplicate_response_id'
        end as reason
    from deduplicated
)

select * from final
