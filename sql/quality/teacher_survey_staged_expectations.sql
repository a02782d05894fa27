-- The wave's staged teacher rows, the scope of the teacher_survey_staged gate: DuckDB counts
-- every rule's violations over all of them, and GX validates the stratified sample drawn
-- from them. gx_stratum is league × county × school_level; gx_key is the row's key, which
-- seeds its draw. Bound: $wave.
with source as (
    select *
    from staging.teacher_survey_staged
    where wave = $wave
),

final as (
    select
        *,
        concat_ws('|', league_code, county_code, school_level) as gx_stratum,
        response_id as gx_key
    from source
)

select * from final
