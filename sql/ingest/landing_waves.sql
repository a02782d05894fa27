-- The waves present in a source's landing rows (temp view landing_rows), as partition keys.
with source as (
    select wave_key
    from landing_rows
    where wave_key is not null
),

final as (
    select distinct wave_key as wave
    from source
)

select wave from final order by wave
