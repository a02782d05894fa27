-- marts.alerts: monitoring rules per league (area_level = 'league'), each row with a
-- Chinese and an English message naming the league, the metric, the value and the
-- threshold. Bound: $red_line_share, $completeness_min, $target (the inspection reduction
-- target, shown as the threshold), $paper_reduction_ratio, $direction_labels (the trend
-- directions' words, from pipelines/report/text.py DIRECTION). Rules:
--   red_line_item            per wave: a red-line item's (ref.burden_items.red_line) share ≥ $red_line_share
--   burden_rebound           per wave: hours_nonteaching rose significantly from the previous wave
--                            (wave_changes): q < $significance, q the Benjamini–Hochberg value over
--                            the wave's league tests of the rule
--   inspection_target_missed latest wave: target_met is false; judged on the latest wave only,
--                            and only once it is later than the baseline wave
--   secondment_over_6m       per wave: school_seconded_over_6m > 0
--   low_completeness         per wave: marts.reporting_completeness's league completeness < $completeness_min
--   not_felt                 latest wave: hours_nonteaching's trend improving, felt_net's not
--   paper_reduction          latest wave: school_inspections_per_school's trend improving, the
--                            teachers' n_inspections' not, and the teachers' relative decline per
--                            wave (−Sen slope / first estimate) under the schools' divided by
--                            $paper_reduction_ratio: a merely non-significant teacher trend is often
--                            lack of power, not of decline, so the two sources must also disagree
--   policy_cap_breached      per rule and period: a school of the league breaches a cap of
--                            ref.policy_rules (marts.policy_compliance); wave is the period's
--                            first month (meta.period_start), so the alert sorts among the
--                            waves, metric the rule_id, value the schools breaching; the message
--                            names the period (e.g. 2026, 2025-2026-1) and cites the rule's source
-- severity: 'high' where the list is breached outright or the reform does not reach the
-- teachers (red_line_item, secondment_over_6m, not_felt, policy_cap_breached); 'medium' for
-- the others.
-- Values are point estimates; shares are shown as percentages, and felt_net's slope (a
-- difference of shares) in percentage points. Rows that rest on a test
-- carry its p_value and q_value: burden_rebound its own; not_felt and paper_reduction those
-- of the trend they turn on (hours_nonteaching's, the school-reported inspections'), whose
-- q is Benjamini–Hochberg over all of marts.trends.
with leagues as (
    select code as area_code, name_zh, name_en
    from ref.divisions
    where level = 'league'
),

latest as (
    select max(area_metrics.wave) as wave
    from marts.area_metrics
    inner join meta.metrics as metrics using (metric)
    where metrics.source = 'teacher_survey'
        and area_metrics.area_level = 'region'
        and area_metrics.n > 0
),

league_metrics as (
    select area_metrics.*, metrics.label_zh, metrics.label_en, metrics.unit_zh, metrics.unit_en
    from marts.area_metrics
    inner join meta.metrics as metrics using (metric)
    where area_metrics.area_level = 'league'
),

direction_labels as (
    select labels.direction, labels.zh as direction_zh, labels.en as direction_en
    from (select unnest($direction_labels) as labels)
),

red_line_item as (
    select
        league_metrics.wave,
        league_metrics.area_code,
        'red_line_item' as rule,
        league_metrics.metric,
        league_metrics.estimate as value,
        $red_line_share as threshold,
        format('{}（{}轮）：{}为{:.1f}%，达到或超过红线阈值{:.1f}%，该条为清单“严禁”事项。',
               leagues.name_zh, league_metrics.wave, league_metrics.label_zh,
               league_metrics.estimate * 100, $red_line_share * 100) as message,
        format('{} ({}): {} is {:.1f}%, at or above the red-line threshold of {:.1f}%; the list strictly prohibits this item.',
               leagues.name_en, league_metrics.wave, league_metrics.label_en,
               league_metrics.estimate * 100, $red_line_share * 100) as message_en
    from league_metrics
    inner join leagues using (area_code)
    inner join ref.burden_items as items on format('item_{:02d}', items.item_no) = league_metrics.metric
    where items.red_line and league_metrics.estimate >= $red_line_share
),

rebound_tests as (
    select
        changes.*,
        least(1.0, min(changes.tests * changes.p_value / changes.p_rank) over (
            partition by changes.wave order by changes.p_rank desc rows between unbounded preceding and current row
        )) as q_value
    from (
        select
            *,
            row_number() over (partition by wave order by p_value, area_code) as p_rank,
            count(*) over (partition by wave) as tests
        from marts.wave_changes
        where area_level = 'league' and metric = 'hours_nonteaching' and p_value is not null
    ) as changes
),

burden_rebound as (
    select
        changes.wave,
        changes.area_code,
        'burden_rebound' as rule,
        changes.metric,
        changes.estimate as value,
        changes.previous_estimate as threshold,
        format('{}（{}轮）：{}为{:.1f}{}，较上一轮（{}）的{:.1f}{}显著上升{:.1f}（{}），减负成效出现反弹。',
               leagues.name_zh, changes.wave, metrics.label_zh, changes.estimate, metrics.unit_zh,
               changes.previous_wave, changes.previous_estimate, metrics.unit_zh, changes.change,
               marts.format_p(changes.p_value)) as message,
        format('{} ({}): {} is {:.1f} {}, a significant rise of {:.1f} from {:.1f} in {} ({}): the burden is rebounding.',
               leagues.name_en, changes.wave, metrics.label_en, changes.estimate, metrics.unit_en,
               changes.change, changes.previous_estimate, changes.previous_wave,
               marts.format_p(changes.p_value)) as message_en,
        changes.p_value,
        changes.q_value
    from rebound_tests as changes
    inner join leagues using (area_code)
    inner join meta.metrics as metrics using (metric)
    where changes.q_value < $significance
        and changes.change > 0
),

inspection_target_missed as (
    select
        target.wave,
        target.area_code,
        'inspection_target_missed' as rule,
        'school_inspections_per_school' as metric,
        target.reduction_pct as value,
        $target as threshold,
        format('{}（{}轮）：校均督查检查次数为{:.2f}次，较基线轮（{}）的{:.2f}次{}{:.1f}%，未达到减少{:.0f}%以上的目标。',
               leagues.name_zh, target.wave, target.inspections_per_school, target.baseline_wave,
               target.baseline_per_school, case when target.reduction_pct >= 0 then '减少' else '增加' end,
               abs(target.reduction_pct) * 100, $target * 100) as message,
        format('{} ({}): inspections per school are {:.2f}, {} {:.1f}% against {:.2f} in the baseline wave {}; the target is a reduction of at least {:.0f}%.',
               leagues.name_en, target.wave, target.inspections_per_school,
               case when target.reduction_pct >= 0 then 'down' else 'up' end, abs(target.reduction_pct) * 100,
               target.baseline_per_school, target.baseline_wave, $target * 100) as message_en
    from marts.inspection_target as target
    inner join latest using (wave)
    inner join leagues using (area_code)
    where target.area_level = 'league'
        and not target.target_met
        and target.wave > target.baseline_wave
),

secondment_over_6m as (
    select
        league_metrics.wave,
        league_metrics.area_code,
        'secondment_over_6m' as rule,
        league_metrics.metric,
        league_metrics.estimate as value,
        0.0 as threshold,
        format('{}（{}轮）：{}为{:.0f}人（应为0人），清单规定借用教师原则上不超过半年。',
               leagues.name_zh, league_metrics.wave, league_metrics.label_zh, league_metrics.estimate) as message,
        format('{} ({}): {}: {:.0f} (should be 0); the list limits secondments to six months in principle.',
               leagues.name_en, league_metrics.wave, league_metrics.label_en, league_metrics.estimate) as message_en
    from league_metrics
    inner join leagues using (area_code)
    where league_metrics.metric = 'school_seconded_over_6m' and league_metrics.estimate > 0
),

completeness as (
    select wave, area_code, schools_reporting, schools_expected, completeness
    from marts.reporting_completeness
    where area_level = 'league'
),

low_completeness as (
    select
        completeness.wave,
        completeness.area_code,
        'low_completeness' as rule,
        cast(null as varchar) as metric,
        completeness.completeness as value,
        $completeness_min as threshold,
        format('{}（{}轮）：学校报表填报率为{:.1f}%（{}/{}所学校），低于{:.0f}%的要求。',
               leagues.name_zh, completeness.wave, completeness.completeness * 100,
               completeness.schools_reporting, completeness.schools_expected, $completeness_min * 100) as message,
        format('{} ({}): {:.1f}% of schools reported ({} of {}), below the required {:.0f}%.',
               leagues.name_en, completeness.wave, completeness.completeness * 100,
               completeness.schools_reporting, completeness.schools_expected, $completeness_min * 100) as message_en
    from completeness
    inner join leagues using (area_code)
    where completeness.completeness < $completeness_min
),

league_trends as (
    select trends.*, metrics.label_zh, metrics.label_en, labels.direction_zh, labels.direction_en
    from marts.trends as trends
    inner join meta.metrics as metrics using (metric)
    inner join direction_labels as labels using (direction)
    where trends.area_level = 'league'
),

not_felt as (
    select
        latest.wave,
        felt.area_code,
        'not_felt' as rule,
        felt.metric,
        felt.slope_per_wave as value,
        cast(null as double) as threshold,
        format('{}（截至{}轮）：{}呈显著下降趋势（每轮{:+.2f}，{}），但{}未见改善（趋势：{}，每轮{:+.1f}个百分点，{}），教师减负获得感不足。',
               leagues.name_zh, latest.wave, hours.label_zh, hours.slope_per_wave, marts.format_p(hours.p_value),
               felt.label_zh, felt.direction_zh, felt.slope_per_wave * 100, marts.format_p(felt.p_value)) as message,
        format('{} (to {}): {} are falling significantly ({:+.2f} per wave, {}) but the {} is not improving ({}, {:+.1f} percentage points per wave, {}): teachers do not feel the reduction.',
               leagues.name_en, latest.wave, lower(hours.label_en), hours.slope_per_wave, marts.format_p(hours.p_value),
               lower(felt.label_en), felt.direction_en, felt.slope_per_wave * 100, marts.format_p(felt.p_value)) as message_en,
        hours.p_value,
        hours.q_value
    from league_trends as hours
    inner join league_trends as felt on felt.area_code = hours.area_code and felt.metric = 'felt_net'
    inner join leagues on leagues.area_code = hours.area_code
    cross join latest
    where hours.metric = 'hours_nonteaching' and hours.direction = 'improving' and felt.direction <> 'improving'
),

inspection_declines as (
    select
        area_code,
        metric,
        direction,
        direction_zh,
        direction_en,
        label_zh,
        label_en,
        p_value,
        q_value,
        -slope_per_wave / nullif(first_estimate, 0) as decline_per_wave
    from league_trends
    where metric in ('school_inspections_per_school', 'n_inspections')
),

paper_reduction as (
    select
        latest.wave,
        reported.area_code,
        'paper_reduction' as rule,
        teachers.metric,
        teachers.decline_per_wave as value,
        reported.decline_per_wave / $paper_reduction_ratio as threshold,
        format('{}（截至{}轮）：学校上报的{}呈显著下降趋势（每轮下降{:.1f}%，{}），但{}每轮仅下降{:.1f}%（趋势：{}，{}），不足学校上报降幅的1/{:g}，疑为“纸面减负”。',
               leagues.name_zh, latest.wave, reported.label_zh, reported.decline_per_wave * 100,
               marts.format_p(reported.p_value), teachers.label_zh, teachers.decline_per_wave * 100,
               teachers.direction_zh, marts.format_p(teachers.p_value), $paper_reduction_ratio) as message,
        format('{} (to {}): schools report {} falling significantly ({:.1f}% per wave, {}) but {} fall by only {:.1f}% per wave ({}, {}), less than 1/{:g} of the reported decline: a reduction on paper only.',
               leagues.name_en, latest.wave, lower(reported.label_en), reported.decline_per_wave * 100,
               marts.format_p(reported.p_value), lower(teachers.label_en), teachers.decline_per_wave * 100,
               teachers.direction_en, marts.format_p(teachers.p_value), $paper_reduction_ratio) as message_en,
        reported.p_value,
        reported.q_value
    from inspection_declines as reported
    inner join inspection_declines as teachers
        on teachers.area_code = reported.area_code and teachers.metric = 'n_inspections'
    inner join leagues on leagues.area_code = reported.area_code
    cross join latest
    where reported.metric = 'school_inspections_per_school'
        and reported.direction = 'improving'
        and teachers.direction <> 'improving'
        and teachers.decline_per_wave < reported.decline_per_wave / $paper_reduction_ratio
),

policy_cap_breached as (
    select
        meta.period_start(compliance.period) as wave,
        compliance.area_code,
        'policy_cap_breached' as rule,
        compliance.rule_id as metric,
        cast(compliance.schools_breaching as double) as value,
        cast(0 as double) as threshold,
        format('{}（{}）：{}所学校突破政策红线“{}”（{}），超出{}次。',
               leagues.name_zh, compliance.period, compliance.schools_breaching, rules.text_zh, rules.source_zh,
               compliance.breaches) as message,
        format('{} ({}): {} school(s) breach the cap "{}" ({}), {} event(s) beyond it.',
               leagues.name_en, compliance.period, compliance.schools_breaching, rules.text_en, rules.source_en,
               compliance.breaches) as message_en,
        cast(null as double) as p_value,
        cast(null as double) as q_value
    from marts.policy_compliance as compliance
    inner join leagues on leagues.area_code = compliance.area_code
    inner join (select distinct on (rule_id) * from ref.policy_rules order by rule_id, effective_from desc) as rules
        on rules.rule_id = compliance.rule_id
    where compliance.area_level = 'league' and compliance.schools_breaching > 0
),

fired as (
    select * from red_line_item
    union all by name
    select * from burden_rebound
    union all by name
    select * from inspection_target_missed
    union all by name
    select * from secondment_over_6m
    union all by name
    select * from low_completeness
    union all by name
    select * from not_felt
    union all by name
    select * from paper_reduction
    union all by name
    select * from policy_cap_breached
),

final as (
    select
        wave,
        'league' as area_level,
        area_code,
        rule,
        case when rule in ('red_line_item', 'secondment_over_6m', 'not_felt', 'policy_cap_breached') then 'high'
            else 'medium' end
            as severity,
        metric,
        value,
        threshold,
        message,
        message_en,
        p_value,
        q_value
    from fired
)

select *
from final
order by wave, rule, area_code, metric
