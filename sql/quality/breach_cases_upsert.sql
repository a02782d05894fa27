-- quality.breach_cases, step 1: every breach of marts.policy_breaches. A new one is inserted
-- as open; a known one gets its observed figures, and, when the pipeline closed it earlier
-- (status_by = 'pipeline'), is reopened. Status, assignee and note an analyst set are kept;
-- a row whose figures did not change is left alone, updated_at included.
-- Bound: $now, $data_note (the note the pipeline writes when the data resolves a case).
insert into quality.breach_cases
    (rule_id, school_code, period, observed, "limit", first_event_date, status, assignee, note, updated_at,
     status_by, in_data)
select
    rule_id,
    school_code,
    period,
    observed,
    "limit",
    first_event_date,
    'open',
    null,
    null,
    $now,
    'pipeline',
    true
from marts.policy_breaches
on conflict (rule_id, school_code, period) do update set
    observed = excluded.observed,
    "limit" = excluded."limit",
    first_event_date = excluded.first_event_date,
    in_data = true,
    status = case when status_by = 'pipeline' then 'open' else status end,
    note = case when status_by = 'pipeline' and note = $data_note then null else note end,
    updated_at = $now
where observed is distinct from excluded.observed
    or "limit" is distinct from excluded."limit"
    or first_event_date is distinct from excluded.first_event_date
    or not in_data
