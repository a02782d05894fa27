-- The rules of one source as one map, column name → rule: its meta.column_rules row with the run's
-- $unreadable (spreadsheet error values, malformed in any column), $text_max_length and
-- $current_wave (the month of the run). Set as variable staging_rules before the generated
-- sql/staging/<source>_typed.sql runs; the meta.<kind>_violation macros read it. Bound: $source too.
-- Two flags per rule let the number and integer checks pass a plainly valid cell without building
-- its reason (sql/ddl/03_staging.sql): numeric_fast, the rule has no code list and no unreadable
-- value reads as a number; codes_fast, every code is an integer in its canonical spelling that the
-- full check accepts.
with source as (
    select *
    from meta.column_rules
    where source = $source
),

flagged as (
    select
        *,
        len(allowed_values) = 0
        and not coalesce(list_bool_or(list_transform($unreadable, lambda u: try_cast(u as double) is not null)), false)
            as numeric_fast,
        len(allowed_values) > 0
        and list_bool_and(list_transform(
            allowed_values,
            lambda a: a <> ''
            and not list_contains($unreadable, a)
            and coalesce(cast(try_cast(try_cast(a as double) as bigint) as varchar) = a, false)
            and coalesce(try_cast(a as double) >= min_value, true)
            and coalesce(try_cast(a as double) <= max_value, true)
        )) as codes_fast
    from source
),

final as (
    select
        map_from_entries(list(struct_pack(
            key := column_name,
            value := struct_pack(
                column_name, required, min_value, max_value, allowed_values, pattern, numeric_fast, codes_fast,
                unreadable := $unreadable, text_max_length := $text_max_length, current_wave := $current_wave
            )
        ))) as rules
    from flagged
)

select rules from final
