-- The staged campus events, the scope of the campus_event_staged gate: all months when $wave
-- is null, else the month $wave. DuckDB counts every rule's violations over all of them, and
-- GX validates the stratified sample drawn from them. event_date is read as a timestamp, the
-- type the suite's date rule expects. gx_stratum is league × county × kind; gx_key is the
-- row's key, which seeds its draw. Bound: $wave.
with source as (
    select * replace (cast(event_date as timestamp) as event_date)
    from staging.campus_event_staged
    where $wave is null or wave = $wave
),

final as (
    select
        *,
        concat_ws('|', league_code, county_code, kind) as gx_stratum,
        event_id as gx_key
    from source
)

select * from final
