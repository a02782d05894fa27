-- marts.outliers counted per wave and league: schools with an outlying value of each
-- school-reported count (either reference), and over all counts (metric NULL), with how many
-- still await follow-up. The mart lists schools and their values; only counts reach the site.
select
    wave,
    league_code as area_code,
    metric,
    count(distinct school_code) as schools,
    count(distinct school_code) filter (where follow_up_status = 'open') as schools_open
from marts.outliers
group by grouping sets ((wave, league_code, metric), (wave, league_code))
order by wave, area_code, metric nulls last
