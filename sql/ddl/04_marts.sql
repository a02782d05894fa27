create table if not exists marts.area_metrics (
    wave varchar,
    area_level varchar,
    area_code varchar,
    metric varchar,
    estimate double,
    ci_low double,
    ci_high double,
    n bigint,
    suppressed boolean,
    se double,
    reliability varchar,
    suppression varchar,
    estimate_unweighted double,
    df integer,
    deff double
);

alter table marts.area_metrics add column if not exists df integer;
alter table marts.area_metrics add column if not exists deff double;

create table if not exists marts.inspection_target (
    area_level varchar,
    area_code varchar,
    wave varchar,
    baseline_wave varchar,
    inspections_per_school double,
    baseline_per_school double,
    reduction_pct double,
    target_met boolean,
    n_schools bigint,
    baseline_n_schools bigint
);

create table if not exists marts.trends (
    area_level varchar,
    area_code varchar,
    metric varchar,
    n_waves integer,
    first_wave varchar,
    last_wave varchar,
    first_estimate double,
    last_estimate double,
    slope_per_wave double,
    p_value double,
    direction varchar,
    mk_s integer,
    polarity varchar,
    var_s double,
    z double,
    q_value double
);

alter table marts.trends add column if not exists q_value double;

create table if not exists marts.wave_changes (
    wave varchar,
    previous_wave varchar,
    area_level varchar,
    area_code varchar,
    metric varchar,
    estimate double,
    previous_estimate double,
    change double,
    ci_low double,
    ci_high double,
    p_value double,
    significant boolean,
    direction varchar,
    se double,
    polarity varchar,
    df integer
);

alter table marts.wave_changes add column if not exists df integer;

create table if not exists marts.alerts (
    wave varchar,
    area_level varchar,
    area_code varchar,
    rule varchar,
    severity varchar,
    metric varchar,
    value double,
    threshold double,
    message varchar,
    message_en varchar,
    p_value double,
    q_value double
);

alter table marts.alerts add column if not exists p_value double;
alter table marts.alerts add column if not exists q_value double;

-- The standard normal distribution for p-values. DuckDB has no erf, so this is W. J. Cody's
-- rational Chebyshev approximation (Math. Comp. 1969) with the coefficients and the
-- exp(-y²/2) splitting of R's pnorm.c (nmath), accurate to double precision; written once
-- here and used by the wave_changes and trends marts. normal_upper_tail(y) = P(Z > y) for
-- y >= 0.
create or replace macro marts.normal_density_scaled(y) as
    exp(-0.5 * (trunc(y * 16) / 16) * (trunc(y * 16) / 16))
    * exp(-0.5 * (y - trunc(y * 16) / 16) * (y + trunc(y * 16) / 16));

create or replace macro marts.normal_upper_tail(y) as
    case
        when y <= 0.67448975 then
            0.5 - y * ((((0.065682337918207449113 * y * y + 2.2352520354606839287) * y * y
                         + 161.02823106855587881) * y * y + 1067.6894854603709582) * y * y
                       + 18154.981253343561249)
                    / ((((y * y + 47.20258190468824187) * y * y + 976.09855173777669322) * y * y
                        + 10260.932208618978205) * y * y + 45507.789335026729956)
        when y <= 5.656854249492380195206754896838 then
            marts.normal_density_scaled(y)
            * ((((((((1.0765576773720192317e-8 * y + 0.39894151208813466764) * y
                     + 8.8831497943883759412) * y + 93.506656132177855979) * y
                     + 597.27027639480026226) * y + 2494.5375852903726711) * y
                     + 6848.1904505362823326) * y + 11602.651437647350124) * y
               + 9842.7148383839780218)
            / ((((((((y + 22.266688044328115691) * y + 235.38790178262499861) * y
                     + 1519.377599407554805) * y + 6485.558298266760755) * y
                     + 18615.571640885098091) * y + 34900.952721145977266) * y
                     + 38912.003286093271411) * y + 19685.429676859990727)
        when y < 37.5193 then
            marts.normal_density_scaled(y)
            * (0.398942280401432677939946059934
               - (1 / (y * y))
                 * (((((0.02307344176494017303 / (y * y) + 0.21589853405795699) / (y * y)
                       + 0.1274011611602473639) / (y * y) + 0.022235277870649807) / (y * y)
                       + 0.001421619193227893466) / (y * y) + 2.9112874951168792e-5)
                 / (((((1 / (y * y) + 1.28426009614491121) / (y * y) + 0.468238212480865118) / (y * y)
                       + 0.0659881378689285515) / (y * y) + 0.00378239633202758244) / (y * y)
                       + 7.29751555083966205e-5))
            / y
        else 0.0
    end;

create or replace macro marts.normal_cdf(x) as
    case when x < 0 then marts.normal_upper_tail(-x) else 1 - marts.normal_upper_tail(x) end;

create or replace macro marts.two_sided_p(z) as
    least(1.0, 2 * marts.normal_upper_tail(abs(z)));

create or replace macro marts.format_p(p) as
    case when p < 0.001 then 'p < 0.001' else format('p = {:.3f}', p) end;

-- A sum that does not depend on the order DuckDB's threads add the rows in: each value is
-- rounded to 24 decimals and added exactly as DECIMAL(38, 24), so a re-run reproduces the
-- marts bit for bit. 14 integer digits are ample: a weighted sum is bounded by the teacher
-- population times the largest answer.
create or replace macro marts.exact_sum(x) as
    cast(sum(cast(x as decimal(38, 24))) as double);

-- Teacher metrics whose question no accepted respondent's file of the area held in the wave:
-- the reports show them as "not collected", not as suppressed.
create table if not exists marts.metrics_not_collected (
    wave varchar,
    area_level varchar,
    area_code varchar,
    metric varchar,
    respondents bigint
);

-- Fay–Herriot small-area estimates per wave, county and teacher metric (pipelines.small_area):
-- estimate and mse are the EBLUP's (the synthetic x'β̂ where the direct figure is unusable,
-- method 'synthetic'); shrinkage is the weight on the synthetic part.
create table if not exists marts.county_estimates (
    wave varchar,
    area_code varchar,
    league_code varchar,
    metric varchar,
    estimate double,
    mse double,
    shrinkage double,
    synthetic_estimate double,
    direct_estimate double,
    direct_se double,
    direct_reliability varchar,
    n bigint,
    method varchar,
    sigma2_u double,
    fit_counties bigint,
    parameters bigint,
    thin boolean
);
