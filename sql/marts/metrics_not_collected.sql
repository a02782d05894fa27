-- marts.metrics_not_collected: per wave, area and teacher metric, the areas with accepted
-- respondents none of whose files held the metric's columns (landing.files.missing_columns,
-- meta.metric_columns). Such a metric is "not collected" there, which the reports keep
-- apart from a suppressed cell.
with respondents as (
    select wave, county_code, league_code, source_file, count(*) as respondents
    from staging.teacher_survey_staged
    group by all
),

tables as (
    select distinct file as source_file, landing_file
    from landing.teacher_survey_rows
),

file_metrics as (
    select
        tables.source_file,
        metric_columns.metric,
        bool_and(not list_contains(coalesce(files.missing_columns, []), metric_columns.column_name))
            as collected
    from tables
    inner join landing.files as files
        on files.source = 'teacher_survey' and files.file = tables.landing_file
    cross join meta.metric_columns as metric_columns
    group by all
),

per_county as (
    select
        respondents.wave,
        respondents.county_code,
        respondents.league_code,
        file_metrics.metric,
        sum(respondents.respondents) as respondents,
        bool_or(file_metrics.collected) as collected
    from respondents
    inner join file_metrics using (source_file)
    group by all
),

region as (
    select code from ref.divisions where level = 'region'
),

rolled as (
    select wave, 'county' as area_level, county_code as area_code, metric,
           sum(respondents) as respondents, bool_or(collected) as collected
    from per_county group by all
    union all
    select wave, 'league' as area_level, league_code as area_code, metric,
           sum(respondents) as respondents, bool_or(collected) as collected
    from per_county group by all
    union all
    select per_county.wave, 'region' as area_level, region.code as area_code, per_county.metric,
           sum(per_county.respondents) as respondents, bool_or(per_county.collected) as collected
    from per_county cross join region group by all
),

final as (
    select wave, area_level, area_code, metric, respondents
    from rolled
    where not collected
)

select * from final
order by wave, area_level, area_code, metric
