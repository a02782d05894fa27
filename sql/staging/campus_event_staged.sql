-- Campus events, every keyed month at once (judged_rows: sql/staging/judged_rows.sql, a CTE ahead of this file).
-- event_id is unique across the source: of the valid rows sharing one, the first by file and row
-- number is kept and the later ones are rejected as duplicate_event_id. wave is the month of
-- event_date (the landing key). reason is null for an accepted row.
with source as (
    select *
    from judged_rows
),

ranked as (
    select
        *,
        row_number() over (
            partition by prior_reason is null, event_id
            order by file, row_number
        ) as event_rank
    from source
),

final as (
    select
        * exclude (prior_reason, event_rank, file, row_number),
        file as source_file,
        row_number as source_row,
        case
            when prior_reason is not null then prior_reason
            when event_rank > 1 then 'duplicate_event_id'
        end as reason
    from ranked
)

select * from final
