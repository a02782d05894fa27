-- marts.outliers: school-reported counts far from what is usual, by the modified z-score of
-- Iglewicz and Hoaglin (1993): M = 0.6745 (x - median) / MAD, with MAD the median absolute
-- deviation from the median; a count is an outlier where |M| > $threshold, except that
-- against its own history only a rise counts (M > $threshold): the list makes falling
-- counts the expected trend, and a school falling far below its county's peers is still
-- caught by 'county_peers'. Two references
-- per school, wave and count: the school's own earlier waves ('own_history', at least
-- $min_history of them, the current wave not among them) and the schools of its county in
-- the same wave ('county_peers', at least $min_peers schools, the school among them). Where
-- half or more of the reference values are equal, MAD is 0 and M is undefined: such a count
-- gets no score and is never flagged. follow_up_status is the latest status analysts
-- recorded in quality.outlier_follow_up for the wave, school and count, else 'open'.
-- Bound: $threshold, $min_history, $min_peers.
with reports as (
    select
        wave,
        school_code,
        county_code,
        league_code,
        n_inspections,
        n_campus_events,
        n_forms_requests,
        n_nonteaching_meetings,
        n_social_exams
    from staging.school_report_staged
),

counts as (
    select wave, school_code, county_code, league_code, metric, cast(value as double) as value
    from (
        unpivot reports
        on n_inspections, n_campus_events, n_forms_requests, n_nonteaching_meetings, n_social_exams
        into name metric value value
    )
),

history as (
    select
        current_wave.wave,
        current_wave.school_code,
        current_wave.metric,
        earlier.value as reference_value
    from counts as current_wave
    inner join counts as earlier
        on earlier.school_code = current_wave.school_code
        and earlier.metric = current_wave.metric
        and earlier.wave < current_wave.wave
),

history_centres as (
    select wave, school_code, metric, count(*) as reference_n, median(reference_value) as reference_median
    from history
    group by wave, school_code, metric
    having count(*) >= $min_history
),

history_spreads as (
    select
        history.wave,
        history.school_code,
        history.metric,
        median(abs(history.reference_value - centres.reference_median)) as reference_mad
    from history
    inner join history_centres as centres using (wave, school_code, metric)
    group by history.wave, history.school_code, history.metric
),

peer_centres as (
    select wave, county_code, metric, count(*) as reference_n, median(value) as reference_median
    from counts
    group by wave, county_code, metric
    having count(*) >= $min_peers
),

peer_spreads as (
    select
        counts.wave,
        counts.county_code,
        counts.metric,
        median(abs(counts.value - centres.reference_median)) as reference_mad
    from counts
    inner join peer_centres as centres using (wave, county_code, metric)
    group by counts.wave, counts.county_code, counts.metric
),

referenced as (
    select
        'own_history' as method,
        counts.*,
        centres.reference_n,
        centres.reference_median,
        spreads.reference_mad
    from counts
    inner join history_centres as centres using (wave, school_code, metric)
    inner join history_spreads as spreads using (wave, school_code, metric)
    union all
    select
        'county_peers' as method,
        counts.*,
        centres.reference_n,
        centres.reference_median,
        spreads.reference_mad
    from counts
    inner join peer_centres as centres using (wave, county_code, metric)
    inner join peer_spreads as spreads using (wave, county_code, metric)
),

scored as (
    select
        *,
        0.6745 * (value - reference_median) / nullif(reference_mad, 0) as score
    from referenced
),

follow_up as (
    select wave, school_code, metric, status, note
    from quality.outlier_follow_up
    qualify row_number() over (partition by wave, school_code, metric order by updated_at desc nulls last) = 1
),

final as (
    select
        scored.wave,
        scored.school_code,
        scored.county_code,
        scored.league_code,
        scored.metric,
        scored.value,
        scored.method,
        scored.score,
        cast($threshold as double) as threshold,
        coalesce(follow_up.status, 'open') as follow_up_status,
        follow_up.note as follow_up_note,
        scored.reference_n,
        scored.reference_median,
        scored.reference_mad
    from scored
    left join follow_up using (wave, school_code, metric)
    where case
        when scored.method = 'own_history' then scored.score > $threshold
        else abs(scored.score) > $threshold
    end
)

select *
from final
order by wave, school_code, metric, method
