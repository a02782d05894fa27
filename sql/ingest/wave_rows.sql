-- Landing rows of one source (temp view landing_rows) that belong to wave $wave; with $wave
-- null, the rows that belong to no wave (missing, malformed or future wave: wave_key is null).
with source as (
    select *
    from landing_rows
),

final as (
    select *
    from source
    where case when $wave is null then wave_key is null else wave_key = $wave end
)

select * from final
