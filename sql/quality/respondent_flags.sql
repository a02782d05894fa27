-- quality.respondent_flags for one wave (pipelines/platforms/flags.py says why each flag exists):
-- one row per flag an accepted row carries. Three streaming scans of the staged wave, no row
-- leaves DuckDB. A duplicate is every submission after the first (by submitted_at, response_id)
-- of the same teacher pseudonym, or of identical answers, at one school. Answer groups are first
-- narrowed by a hash of the answers, then compared exactly, so only repeated answers are sorted.
-- Bound: $wave, $speeder_seconds (a completion time below it is a speeder), $min_items (straight-
-- lining is judged from this many answered items), $answer_columns (the questionnaire's answers).
with source as (
    select
        response_id,
        source_file,
        source_row,
        school_code,
        submitted_at,
        teacher_pseudonym,
        seconds_taken,
        felt_change,
        focus_on_teaching,
        [*columns('^item_\d\d$')] as items
    from staging.teacher_survey_staged
    where wave = $wave
),

speeders as (
    select response_id, source_file, source_row, 'speeder' as flag
    from source
    where seconds_taken::double < $speeder_seconds
),

straight_lined as (
    select response_id, source_file, source_row, 'straight_lining' as flag
    from source
    where list_count(items) >= $min_items
        and (
            (list_max(items) = 0 and felt_change = 1 and focus_on_teaching = 1)
            or (list_min(items) = 1 and felt_change = 5 and focus_on_teaching = 5)
        )
),

answer_hashes as (
    select
        source_file,
        source_row,
        hash(school_code, row(*columns(lambda c: list_contains($answer_columns, c)))) as answers_hash
    from staging.teacher_survey_staged
    where wave = $wave
),

repeated_hashes as (
    select answers_hash
    from answer_hashes
    group by answers_hash
    having count(*) > 1
),

repeated_answers as (
    select
        staged.response_id,
        staged.source_file,
        staged.source_row,
        row_number() over (
            partition by staged.school_code, row(*columns(lambda c: list_contains($answer_columns, c)))
            order by staged.submitted_at nulls first, staged.response_id nulls first
        ) as nth
    from staging.teacher_survey_staged as staged
    semi join (
        select hashed.source_file, hashed.source_row
        from answer_hashes as hashed
        semi join repeated_hashes using (answers_hash)
    ) as candidates using (source_file, source_row)
    where staged.wave = $wave
),

repeated_teachers as (
    select
        response_id,
        source_file,
        source_row,
        row_number() over (
            partition by school_code, teacher_pseudonym
            order by submitted_at nulls first, response_id nulls first
        ) as nth
    from source
    where teacher_pseudonym is not null
),

duplicates as (
    select response_id, source_file, source_row, 'duplicate_submission' as flag
    from repeated_answers
    where nth > 1
    union
    select response_id, source_file, source_row, 'duplicate_submission' as flag
    from repeated_teachers
    where nth > 1
),

final as (
    select * from speeders
    union all
    select * from straight_lined
    union all
    select * from duplicates
)

select $wave as wave, response_id, source_file, source_row, flag
from final
