-- The steps every staging asset shares, written once: the typed rows of one source (typed_rows, the
-- generated sql/staging/<source>_typed.sql as a CTE ahead of this file) placed in their county and league,
-- with prior_reason: the rules the row breaks, then unknown_school. The source's own
-- sql/staging/<source>_staged.sql keeps one version per key of the rows without a prior_reason.
with source as (
    select *
    from typed_rows
),

located as (
    select
        source.*,
        areas.county_code,
        areas.league_code,
        source.school_code <> '' and areas.school_code is null as unknown_school
    from source
    left join ref.school_areas as areas on source.school_code = areas.school_code
),

final as (
    select
        * exclude (cell_reason, unknown_school),
        nullif(concat_ws('; ', cell_reason, case when unknown_school then 'unknown_school' end), '') as prior_reason
    from located
)

select * from final
