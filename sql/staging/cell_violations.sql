-- One row per landing row that breaks any rule of meta.column_rules, its violations
-- joined in rule order. Reads temp table
-- wave_rows; bound: $source, $current_wave (the month of the run), $unreadable (spreadsheet
-- error values, malformed in any column), $text_max_length. A row the reader
-- could not split into the header's fields keeps the reader's verdict (row_error). Shared
-- by every staging asset, so each rule is written once.
with source as (
    select *
    from wave_rows
    where row_error is null
),

cells as (
    unpivot (
        select file, row_number, coalesce(columns(* exclude (file, row_number, landing_file, row_error, wave_key)), '')
        from source
    )
    on columns(* exclude (file, row_number))
    into name column_name value raw_value
),

rules as (
    select *
    from meta.column_rules
    where source = $source
),

parsed as (
    select
        cells.file,
        cells.row_number,
        rules.position,
        rules.column_name,
        rules.kind,
        rules.required,
        rules.min_value,
        rules.max_value,
        rules.allowed_values,
        rules.pattern,
        trim(cells.raw_value) as value_text,
        try_cast(trim(cells.raw_value) as double) as value_number
    from cells
    inner join rules on rules.column_name = cells.column_name
),

checked as (
    select
        file,
        row_number,
        position,
        case
            when value_text = '' then
                case when required then 'missing:' || column_name end
            when list_contains($unreadable, value_text) then
                'malformed:' || column_name
            when kind = 'text' and length(value_text) > $text_max_length then
                'malformed:' || column_name
            when kind = 'wave' and not regexp_full_match(value_text, pattern) then
                'malformed:' || column_name
            when kind = 'wave' and value_text > $current_wave then
                'future_wave'
            when kind = 'date'
                and (not regexp_full_match(value_text, pattern) or try_cast(value_text as date) is null) then
                'malformed:' || column_name
            when kind = 'date' and left(value_text, 7) > $current_wave then
                'future_date'
            when kind = 'timestamp' and try_cast(value_text as timestamp) is null then
                'malformed:' || column_name
            when kind in ('number', 'integer')
                and (value_number is null or not isfinite(value_number)) then
                'malformed:' || column_name
            when kind = 'integer' and value_number <> round(value_number) then
                'malformed:' || column_name
            when len(allowed_values) > 0 and not list_contains(
                allowed_values,
                case when kind = 'integer' then cast(cast(value_number as bigint) as varchar) else value_text end
            ) then
                'not_allowed:' || column_name
            when value_number < min_value or value_number > max_value then
                'out_of_range:' || column_name
        end as violation
    from parsed
),

row_errors as (
    select file, row_number, row_error as reason
    from wave_rows
    where row_error is not null
),

final as (
    select file, row_number, string_agg(violation, '; ' order by position) as reason
    from checked
    where violation is not null
    group by file, row_number
    union all
    select file, row_number, reason
    from row_errors
)

select file, row_number, reason from final
