-- Trends on fewer than $min_waves waves, with p or q out of order, an unknown direction,
-- or a direction where q >= $significance.
select *
from marts.trends
where n_waves < $min_waves
    or p_value not between 0 and 1
    or q_value not between p_value and 1
    or direction not in ('improving', 'worsening', 'no_change')
    or (q_value >= $significance and direction <> 'no_change')
