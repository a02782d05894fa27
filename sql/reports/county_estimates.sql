-- The model-based county figures the report shows beside the direct ones: marts.county_estimates
-- rows of thin counties (direct figure suppressed or not 'reliable') for the metrics in
-- $metrics, with the root MSE, rounded to $digits decimals.
select
    wave,
    area_code,
    metric,
    round(estimate, $digits) as estimate,
    round(sqrt(mse), $digits) as rmse,
    method
from marts.county_estimates
where thin and list_contains($metrics, metric)
order by wave, area_code, metric
