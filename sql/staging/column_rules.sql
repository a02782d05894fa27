-- The rules of one source as one map, column name → rule: its meta.column_rules row with the run's
-- $unreadable (spreadsheet error values, malformed in any column), $text_max_length and
-- $current_wave (the month of the run). Set as variable staging_rules before the generated
-- sql/staging/<source>_typed.sql runs; the meta.<kind>_violation macros read it. Bound: $source too.
with source as (
    select *
    from meta.column_rules
    where source = $source
),

final as (
    select
        map_from_entries(list(struct_pack(
            key := column_name,
            value := struct_pack(
                column_name, required, min_value, max_value, allowed_values, pattern,
                unreadable := $unreadable, text_max_length := $text_max_length, current_wave := $current_wave
            )
        ))) as rules
    from source
)

select rules from final
