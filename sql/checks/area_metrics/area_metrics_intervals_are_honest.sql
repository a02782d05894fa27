-- Published intervals of zero width, or resting on fewer than $df_min degrees of freedom, or unreliable.
select wave, area_level, area_code, metric, estimate, ci_low, ci_high, df
from marts.area_metrics
where ci_low is not null
    and (ci_high <= ci_low or df < $df_min or reliability = 'unreliable')
