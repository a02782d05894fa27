-- The wave's staged school reports, the scope of the school_report_staged gate: DuckDB counts
-- every rule's violations over all of them, and GX validates the stratified sample drawn
-- from them. gx_stratum is league × county (a report carries no school level); gx_key is
-- the row's key, which seeds its draw. Bound: $wave.
with source as (
    select *
    from staging.school_report_staged
    where wave = $wave
),

final as (
    select
        *,
        concat_ws('|', league_code, county_code) as gx_stratum,
        school_code as gx_key
    from source
)

select * from final
