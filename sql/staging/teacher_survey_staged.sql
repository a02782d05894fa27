-- Teacher survey rows of one wave (judged_rows: sql/staging/judged_rows.sql, a CTE ahead of this file): of the
-- valid rows sharing a response_id, the earliest submission is kept and the later ones are
-- rejected as duplicate_response_id. reason is null for an accepted row.
with source as (
    select *
    from judged_rows
),

ranked as (
    select
        *,
        row_number() over (
            partition by prior_reason is null, response_id
            order by submitted_at, file, row_number
        ) as submission_rank
    from source
),

final as (
    select
        * exclude (prior_reason, submission_rank, file, row_number),
        file as source_file,
        row_number as source_row,
        case
            when prior_reason is not null then prior_reason
            when submission_rank > 1 then 'duplicate_response_id'
        end as reason
    from ranked
)

select * from final
