-- School report rows of one wave (judged_rows: sql/staging/judged_rows.sql, a CTE ahead of this file): of a
-- school's valid rows in the wave the latest reported_at wins; the earlier ones are rejected as
-- superseded. reason is null for an accepted row.
with source as (
    select *
    from judged_rows
),

ranked as (
    select
        *,
        row_number() over (
            partition by prior_reason is null, school_code
            order by reported_at desc, file desc, row_number desc
        ) as report_rank
    from source
),

final as (
    select
        * exclude (prior_reason, report_rank, file, row_number),
        file as source_file,
        row_number as source_row,
        case
            when prior_reason is not null then prior_reason
            when report_rank > 1 then 'superseded'
        end as reason
    from ranked
)

select * from final
