-- Changes that are not estimate − previous, fall outside their interval, or carry a p-value outside [0, 1].
select *
from marts.wave_changes
where abs(change - (estimate - previous_estimate)) > 1e-9
    or (ci_low is not null and not (ci_low <= change and change <= ci_high))
    or p_value not between 0 and 1
