-- The waves present in a source's landing rows, as dynamic partition keys.
with rules as (
    select pattern
    from meta.column_rules
    where source = $source and kind = 'wave'
),

final as (
    select distinct trim(landing_rows.wave) as wave
    from landing_rows, rules
    where regexp_full_match(trim(landing_rows.wave), rules.pattern)
)

select wave from final order by wave
