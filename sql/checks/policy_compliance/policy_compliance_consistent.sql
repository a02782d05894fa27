-- Areas with more breaching schools than observed ones or a share outside [0, 1], and school
-- breaches that do not exceed their rule's limit.
select rule_id, period, area_level, area_code
from marts.policy_compliance
where schools_breaching > schools_observed or share_breaching not between 0 and 1
union all
select rule_id, period, 'school' as area_level, school_code as area_code
from marts.policy_breaches
where observed <= "limit" or breaches < 1
