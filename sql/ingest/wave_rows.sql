-- Landing rows of one source whose trimmed wave is $wave; with $wave null, the rows
-- whose wave is missing or not YYYY-MM (they cannot belong to any wave partition).
with rules as (
    select pattern
    from meta.column_rules
    where source = $source and kind = 'wave'
),

final as (
    select landing_rows.*
    from landing_rows, rules
    where case
        when $wave is null then not coalesce(regexp_full_match(trim(landing_rows.wave), rules.pattern), false)
        else trim(landing_rows.wave) = $wave
    end
)

select * from final
