-- marts.respondent_quality for one wave: per flag kind, the rows flagged, their share of the
-- accepted rows, and the rows its exclusion removed. A row carrying two excluded kinds is removed
-- once, and counted under the first of them in $flag_kinds order.
-- Bound: $wave, $flag_kinds (every kind, in order), $excluded_kinds (those removed from estimates).
with kinds as (
    select kind.flag, kind.position
    from unnest($flag_kinds::varchar[]) with ordinality as kind (flag, position)
),

flags as (
    select flag, source_file, source_row
    from quality.respondent_flags
    where wave = $wave
),

accepted as (
    select count(*) as rows_accepted
    from staging.teacher_survey_staged
    where wave = $wave
),

flagged as (
    select flag, count(*) as rows_flagged
    from flags
    group by flag
),

removed as (
    select
        arg_min(flags.flag, kinds.position) as flag,
        flags.source_file,
        flags.source_row
    from flags
    inner join kinds on flags.flag = kinds.flag
    where list_contains($excluded_kinds::varchar[], flags.flag)
    group by flags.source_file, flags.source_row
),

excluded as (
    select flag, count(*) as rows_excluded
    from removed
    group by flag
),

final as (
    select
        kinds.flag,
        kinds.position,
        coalesce(flagged.rows_flagged, 0) as rows_flagged,
        accepted.rows_accepted,
        case when accepted.rows_accepted > 0 then coalesce(flagged.rows_flagged, 0) / accepted.rows_accepted end
            as share_flagged,
        coalesce(excluded.rows_excluded, 0) as rows_excluded
    from kinds
    cross join accepted
    left join flagged on kinds.flag = flagged.flag
    left join excluded on kinds.flag = excluded.flag
)

select $wave as wave, flag, rows_flagged, rows_accepted, share_flagged, rows_excluded
from final
order by position
