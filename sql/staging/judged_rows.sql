-- The steps every staging asset shares, written once: the typed rows of one source (temp view
-- typed_rows, from the generated sql/staging/<source>_typed.sql) placed in their county and league,
-- with prior_reason: the rules the row breaks, then unknown_school. The source's own
-- sql/staging/<source>_staged.sql keeps one version per key of the rows without a prior_reason.
with source as (
    select *
    from typed_rows
),

located as (
    select
        source.*,
        schools.county_code,
        counties.parent_code as league_code,
        source.school_code <> '' and schools.school_code is null as unknown_school
    from source
    left join ref.schools as schools on source.school_code = schools.school_code
    left join ref.divisions as counties on schools.county_code = counties.code
),

final as (
    select
        * exclude (cell_reason, unknown_school),
        nullif(concat_ws('; ', cell_reason, case when unknown_school then 'unknown_school' end), '') as prior_reason
    from located
)

select * from final
