-- Per-wave marts of waves that no longer have a landing row in either source.
delete from marts.area_metrics
where wave not in (
    select wave_key from landing.teacher_survey_rows where wave_key is not null
    union
    select wave_key from landing.school_report_rows where wave_key is not null
);

delete from marts.reporting_completeness
where wave not in (
    select wave_key from landing.teacher_survey_rows where wave_key is not null
    union
    select wave_key from landing.school_report_rows where wave_key is not null
);

delete from staging.survey_design
where wave not in (select wave from marts.area_metrics);

delete from staging.survey_psu_sums
where wave not in (select wave from marts.area_metrics);
