-- quality.breach_cases, step 2: a case whose breach no longer appears in marts.policy_breaches
-- is closed by the data, never deleted: open and confirmed cases become resolved (status_by =
-- 'pipeline', the analyst's note kept, else $data_note); a dismissed case stays dismissed.
-- Bound: $now, $data_note.
update quality.breach_cases
set
    in_data = false,
    status = case when status in ('open', 'confirmed') then 'resolved' else status end,
    status_by = case when status in ('open', 'confirmed') then 'pipeline' else status_by end,
    note = coalesce(note, $data_note),
    updated_at = $now
where in_data
    and not exists (
        select 1
        from marts.policy_breaches as breaches
        where breaches.rule_id = breach_cases.rule_id
            and breaches.school_code = breach_cases.school_code
            and breaches.period = breach_cases.period
    )
