-- marts.county_estimates: the Fay–Herriot fit pipelines.small_area computed from the county
-- cells of marts.area_metrics and sql/marts/county_covariates.sql, registered on the
-- connection as county_estimates_fit. thin: the direct figure is suppressed or not
-- 'reliable' — the counties whose reports show the model-based figure beside it.
select
    fit.*,
    coalesce(fit.direct_reliability, '') <> 'reliable' as thin
from county_estimates_fit as fit
order by fit.wave, fit.area_code, fit.metric
