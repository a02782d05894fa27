"""The report site's interface strings, Chinese first, each with its English twin.

Metric, category and division names do not live here: they come from the metric catalogue
and the reference files, so a label is stated once.
"""

from __future__ import annotations

LANGS = ("zh", "en")

UI: dict[str, tuple[str, str]] = {
    "site_title": ("内蒙古自治区中小学教师减负监测", "Inner Mongolia teacher burden-reduction monitoring"),
    "site_subtitle": (
        "《内蒙古自治区中小学教师减负清单》（厅发〔2020〕3号）26项措施落实情况动态监测",
        "Dynamic monitoring of the 26 measures of the Inner Mongolia list to reduce teachers' burden (2020)",
    ),
    "page_index": ("报告目录", "Reports"),
    "page_overview": ("总览", "Overview"),
    "page_trends": ("趋势", "Trends"),
    "page_breakdowns": ("负担构成", "Breakdowns"),
    "page_inspection": ("督查检查减半目标", "Inspection target"),
    "page_alerts": ("预警", "Alerts"),
    "page_quality": ("数据质量", "Data quality"),
    "page_leagues": ("盟市", "Leagues"),
    "other_language": ("English", "中文"),
    "sep": ("；", "; "),
    "latest": ("最新轮次", "Latest wave"),
    "wave": ("轮次", "Wave"),
    "wave_set": ("报告轮次", "Report wave"),
    "baseline": ("基线轮次", "Baseline wave"),
    "region": ("全区", "Region"),
    "league": ("盟市", "League / city"),
    "county": ("旗县（市、区）", "County"),
    "estimate": ("估计值", "Estimate"),
    "interval": ("95%置信区间", "95% interval"),
    "n_resp": ("应答人数", "Respondents"),
    "n_schools": ("报送学校数", "Reporting schools"),
    "no_waves": (
        "仓库中尚无任何轮次的数据。请先放入问卷与报表文件并运行 jianfu run。",
        "The warehouse holds no wave yet. Drop survey and report files in the landing folders and run jianfu run.",
    ),
    "index_intro": (
        "每一轮次一套报告，另有“最新轮次”一套；每页均有中英文两个版本。",
        "One set of reports per wave plus a 'latest' set; every page exists in Chinese and English.",
    ),
    "index_pages": ("页面", "Pages"),
    "index_league_pages": ("盟市页面", "League pages"),
    "fn_suppressed": (
        "‡ 已抑制：应答人数少于{min_n}人，或为防止由上级与其他单元推算出小样本数值而一并抑制。不表示数值为零。",
        "‡ Suppressed: fewer than {min_n} respondents, or withheld so that a small cell cannot "
        "be derived from its parent and siblings. It does not mean zero.",
    ),
    "fn_missing": ("— 本轮无数据。", "— No data in this wave."),
    "fn_not_collected": (
        "未采集：该地区本轮上报的问卷文件不含此题，不是抑制。",
        "Not collected: this area's files for the wave did not include the question; this is not suppression.",
    ),
    "not_collected": ("未采集", "not collected"),
    "hover_not_collected": ("未采集：本轮文件不含此题", "not collected: the wave's files lack this question"),
    "fn_caution": (
        "* 相对标准误不低于{rse}，或自由度（有应答学校数减层数）小于{df_caution}，请谨慎解读。",
        "* Relative standard error of {rse} or more, or fewer than {df_caution} degrees of freedom (responding "
        "schools minus strata): read with care.",
    ),
    "fn_unreliable": (
        "** 应答全部来自一所学校或自由度不足1，无法给出区间，数值不可靠。",
        "** All respondents from one school, or under 1 degree of freedom: no interval can be "
        "given and the figure is unreliable.",
    ),
    "model_based": ("模型估计", "model-based"),
    "hover_model": (
        "模型估计（Fay–Herriot）：借用结构相近旗县的信息，直接估计保留在前",
        "Model-based (Fay–Herriot): borrows strength from similar counties; the direct figure comes first",
    ),
    "fn_model": (
        "模型估计：样本薄弱的旗县（直接估计被抑制或不可靠、需谨慎）另列Fay–Herriot小域估计，借用学段结构、"
        "城乡构成与所属盟市相近旗县的信息；±为约95%区间半宽（1.96×√MSE）。直接估计照常列出。",
        "Model-based: for thin counties (direct figure suppressed, unreliable or to be read with care) a "
        "Fay–Herriot small-area estimate is shown beside the direct one, borrowing strength from counties "
        "with a similar school-level mix, urban share and league; ± is about a 95% half-width (1.96 × √MSE). "
        "The direct figure is always kept.",
    ),
    "fn_interval": (
        "教师指标为调查加权估计，方括号内为95%置信区间（分层：盟市×学段；整群：学校）。"
        "学校报表指标为报送学校的全数统计，没有抽样区间。",
        "Teacher figures are survey-weighted estimates with 95% intervals in brackets "
        "(strata: league × school level; clusters: schools). School-report figures count "
        "every reporting school and carry no sampling interval.",
    ),
    "source_survey": ("来源：教师问卷，{wave}轮，n = {n}", "Source: teacher survey, wave {wave}, n = {n}"),
    "source_survey_waves": (
        "来源：教师问卷，{first}至{last}轮，共{k}轮，每轮n = {n_min}–{n_max}",
        "Source: teacher survey, waves {first} to {last} ({k} waves), n = {n_min}–{n_max} per wave",
    ),
    "source_school": (
        "来源：学校报表，{wave}轮，报送学校n = {n}",
        "Source: school reports, wave {wave}, n = {n} schools",
    ),
    "source_school_vs": (
        "来源：学校报表，{wave}轮（报送学校n = {n}）对比基线{baseline}轮（n = {n0}）",
        "Source: school reports, wave {wave} (n = {n} schools) against baseline {baseline} (n = {n0} schools)",
    ),
    "source_quality": (
        "来源：数据仓库入库记录，{wave}轮，接收n = {n}行",
        "Source: warehouse load records, wave {wave}, n = {n} rows received",
    ),
    "hover_suppressed": ("已抑制（‡）", "suppressed (‡)"),
    "hover_census": ("全数统计，无抽样区间", "a full count: no sampling interval"),
    "no_rows": ("无记录。", "None."),
    "kpi_hours": ("周非教学负担时长", "Weekly non-teaching hours"),
    "kpi_felt": ("减负获得感净值", "Net felt reduction"),
    "kpi_inspection": ("校均督查检查次数较基线减少", "Inspections per school, reduction from baseline"),
    "kpi_alerts": ("本轮预警", "Alerts this wave"),
    "kpi_target": ("目标：减少{target}以上", "Target: down by at least {target}"),
    "kpi_met": ("已达标", "met"),
    "kpi_not_met": ("未达标", "not met"),
    "kpi_per_school": ("本轮{now}{unit}，基线{baseline}轮{base}{unit}", "{now} {unit} now, {base} in {baseline}"),
    "kpi_vs_baseline": ("基线{baseline}轮：{value}", "Baseline {baseline}: {value}"),
    "kpi_high": ("其中高级别{n}条", "{n} of them high severity"),
    "overview_intro": (
        "本页对比{wave}轮与基线{baseline}轮的全区情况。教师问卷指标给出95%置信区间；"
        "“减负获得感净值”为感到负担减轻与感到加重的教师比例之差。",
        "This page compares wave {wave} with the baseline wave {baseline} for the whole "
        "region. Teacher figures carry 95% intervals; the net felt reduction is the share "
        "feeling a lighter burden minus the share feeling a heavier one.",
    ),
    "chart_region_compare": ("全区：{wave}轮与基线{baseline}轮对比", "Region: wave {wave} against baseline {baseline}"),
    "chart_league_hours": ("各盟市周非教学负担时长（{wave}轮）", "Weekly non-teaching hours by league (wave {wave})"),
    "chart_league_felt": ("各盟市减负获得感净值（{wave}轮）", "Net felt reduction by league (wave {wave})"),
    "chart_trends": (
        "各盟市趋势：测得的负担与感受到的减负（至{wave}轮）",
        "Trends by league: measured burden and felt reduction (to wave {wave})",
    ),
    "trends_intro": (
        "左列为教师报告的每周非教学负担时长（越低越好），右列为减负获得感净值（越高越好）。"
        "阴影为95%置信区间；‡ 表示该轮数据已抑制。方向判定采用Mann-Kendall检验（Benjamini–Hochberg校正后q值小于{significance}）。",
        "Left: weekly non-teaching hours reported by teachers (lower is better); right: net "
        "felt reduction (higher is better). Shading is the 95% interval; ‡ marks a suppressed "
        "wave. Direction from a Mann-Kendall test (Benjamini–Hochberg q-value below {significance}).",
    ),
    "chart_categories": (
        "各盟市周非教学负担时长的构成（{wave}轮）",
        "Weekly non-teaching hours by category and league (wave {wave})",
    ),
    "chart_heatmap": (
        "各盟市清单26条所列情形发生比例（{wave}轮）",
        "Share of teachers experiencing each of the 26 list items, by league (wave {wave})",
    ),
    "breakdowns_intro": (
        "上图按清单五类负担拆分教师每周非教学时长；下图为教师报告经历清单各条所禁止或限制情形的比例，"
        "【红线】标注清单中写明“严禁”的11条，红框为比例达到{red_line}预警阈值的单元。",
        "Top: weekly non-teaching hours split into the list's five categories. Bottom: share "
        "of teachers who experienced what each list item forbids or limits; [red line] marks "
        "the items the list strictly prohibits (严禁), and red boxes the cells at or above the "
        "{red_line} alert threshold.",
    ),
    "red_line": ("红线", "red line"),
    "red_line_tag": ("【红线】", "[red line] "),
    "item_no": ("第{no}条", "Item {no}"),
    "item": ("清单条目", "List item"),
    "items_table": ("清单26条", "The 26 list items"),
    "category": ("类别", "Category"),
    "axis_league": ("盟市", "League / city"),
    "axis_item": ("清单条目", "List item"),
    "axis_wave": ("轮次（年-月）", "Wave (year-month)"),
    "axis_reduction": ("较基线减少（%）", "Reduction from baseline (%)"),
    "axis_rows": ("拒收行数（行）", "Rejected rows (rows)"),
    "axis_share_colour": ("发生比例", "Share"),
    "chart_inspection": (
        "各盟市校均督查检查次数较基线减少幅度（{wave}轮，目标≥{target}）",
        "Reduction of inspections per school from baseline by league (wave {wave}; target ≥ {target})",
    ),
    "inspection_intro": (
        "清单要求对中小学校和教师的督查检查评比考核事项“在现有基础上减少50%以上”。"
        "此处以学校报表中的校均督查检查次数衡量，基线为{baseline}轮，较基线减少{target}以上为达标。",
        "The list requires inspection and assessment items for schools and teachers to be "
        "cut 'by at least 50% from the current level'. Measured here by inspections per "
        "school from the school reports, against the baseline wave {baseline}; a reduction of at least "
        "{target} counts as met.",
    ),
    "target_line": ("目标：减少{target}", "Target: −{target}"),
    "target_met": ("是否达标", "Target met"),
    "per_school_now": ("本轮校均次数", "Per school, this wave"),
    "per_school_base": ("基线校均次数", "Per school, baseline"),
    "reduction": ("减少幅度", "Reduction"),
    "points": ("百分点", "percentage points"),
    "baseline_no_reduction": ("基线轮次：减少幅度以此为起点，不适用", "Baseline wave: reductions are measured from it"),
    "points_value": ("{value}个百分点", "{value} percentage points"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "alerts_intro": (
        "预警规则逐盟市评估。点击表头排序，用下拉框按规则、盟市和轮次筛选。",
        "Alert rules are evaluated per league. Click a column heading to sort; use the "
        "menus to filter by rule, league and wave.",
    ),
    "filter_all": ("全部", "All"),
    "rule": ("规则", "Rule"),
    "severity": ("级别", "Severity"),
    "message": ("说明", "Message"),
    "value": ("数值", "Value"),
    "quality_intro": (
        "本页说明数据从何而来、哪些被拒收及原因。拒收行按原因汇总，不展示任何原始记录。",
        "Where the data came from and what was rejected, and why. Rejected rows are counted "
        "by reason; no raw record is shown.",
    ),
    "chart_completeness": ("各盟市学校报表填报率（各轮次）", "School-report reporting rate by league and wave"),
    "chart_rejected": ("拒收行数（按原因，{wave}轮）", "Rejected rows by reason (wave {wave})"),
    "completeness_table": ("各盟市填报率", "Reporting rate by league"),
    "loads_table": ("各轮次入库情况", "Rows received per wave"),
    "source": ("数据来源", "Source"),
    "rows_received": ("接收行数", "Rows received"),
    "rows_accepted": ("入库行数", "Rows accepted"),
    "rows_rejected": ("拒收行数", "Rows rejected"),
    "schools_expected": ("应报学校", "Schools expected"),
    "schools_reporting": ("已报学校", "Schools reporting"),
    "completeness": ("填报率", "Reporting rate"),
    "coverage": ("覆盖学校比例", "Schools covered"),
    "coverage_survey": ("至少有一名教师应答的学校占名录学校的比例", "Share of schools with at least one respondent"),
    "coverage_note": (
        "覆盖学校比例：教师问卷一行是至少有一名教师应答的学校占名录学校的比例。问卷是抽样调查，并不要求每所学校都有"
        "教师应答，这一比例低不是问题，也不触发预警；学校报表一行是填报率，低于{completeness}触发预警。",
        "Schools covered: on the teacher-survey row, the share of the register's schools with at least "
        "one respondent. The survey is a sample and does not need every school to answer, so a low "
        "share is no problem and raises no alert. On the school-report row it is the reporting rate; "
        "under {completeness} raises an alert.",
    ),
    "rejected_reasons": ("拒收原因", "Rejection reasons"),
    "reason": ("原因", "Reason"),
    "rows": ("行数", "Rows"),
    "rejected_files": ("无法读取的文件", "Unreadable files"),
    "respondent_quality": ("答卷质量标记", "Respondent-quality flags"),
    "respondent_quality_intro": (
        "标记只是提示，不是拒收：默认情况下被标记的答卷仍计入入库数和全部估计值（例如对所有事项都答“否”"
        "可能是真实情况）。过快作答指用时不足问卷预计用时的三分之一；直线作答指两组题都选同一位置的选项"
        "（26个事项全答“否”且两道量表题都选1，或全答“是”且都选5）；重复提交指同校同一教师或答案完全相同的再次提交。",
        "Flags are hints, not rejections: by default flagged rows stay accepted and in every estimate "
        "(answering No to every item can be the truth). A speeder took under a third of the "
        "questionnaire's estimated time; straight-lining is the same option position throughout "
        "(No to all 26 items and 1 on both scale questions, or Yes to all and 5 on both); a duplicate is a later submission of "
        "the same teacher, or of identical answers, at one school.",
    ),
    "flag": ("标记", "Flag"),
    "rows_excluded": ("按配置从估计中排除", "Removed from the estimates by configuration"),
    "flags_excluded": (
        "按分析人员配置（mappings/respondent_flags.yaml），本轮共有 {n} 份答卷因“{kinds}”标记从全部估计值中排除，"
        "计入拒收数。",
        "By the analyst's configuration (mappings/respondent_flags.yaml), {n} rows of "
        "this wave carrying {kinds} were removed from every estimate; they count as rejected.",
    ),
    "flags_not_excluded": (
        "本轮没有按标记排除任何答卷：所有入库答卷都计入估计值。",
        "No row of this wave was removed for a flag: every accepted row is in the estimates.",
    ),
    "rows_flagged": ("被标记答卷数", "Rows flagged"),
    "share_flagged": ("占入库答卷比例", "Share of accepted rows"),
    "flag_speeder": ("过快作答", "Speeder"),
    "flag_straight_lining": ("直线作答", "Straight-lining"),
    "flag_duplicate_submission": ("重复提交", "Duplicate submission"),
    "file": ("文件", "File"),
    "outliers": ("异常值", "Outliers"),
    "source_consistency": ("问卷与报表一致性", "Survey and report consistency"),
    "completeness_intro": (
        "填报率为已报送学校报表的学校占名录学校的比例，低于{completeness}触发预警；按时率为在截止日期前报送的学校比例。",
        "Reporting rate: schools that sent an accepted school report over the schools in the "
        "register; under {completeness} raises an alert. On time: schools that reported by the due date.",
    ),
    "on_time_share": ("按时报送率", "Reported on time"),
    "outliers_intro": (
        "学校报表数值明显偏离本校历史或同旗县学校（修正z分数绝对值大于{outlier_score}）的学校数，按盟市和指标汇总，待逐一核实。",
        "Schools whose reported counts lie far from their own history or their county peers "
        "(modified z-score beyond {outlier_score}), counted per league and count, for follow-up.",
    ),
    "consistency_intro": (
        "学校上报的校均督查检查次数与教师报告的次数之比；比值高于{ratio_high}或低于{ratio_low}视为不一致。",
        "Inspections per school as the schools report them against the number teachers "
        "report; a ratio above {ratio_high} or below {ratio_low} is flagged.",
    ),
    "outlier_schools": ("涉及学校数", "Schools with an outlier"),
    "outlier_open": ("其中待核实", "Awaiting follow-up"),
    "ratio": ("比值", "Ratio"),
    "flagged": ("是否不一致", "Flagged"),
    "schools_compared": ("比对学校数", "Schools compared"),
    "schools_flagged": ("不一致学校数", "Schools flagged"),
    "quality_extra_missing": ("该质量表尚未生成。", "This quality table has not been built yet."),
    "data_docs": ("Great Expectations 数据文档（逐项校验结果）", "Great Expectations Data Docs (every validation)"),
    "data_docs_missing": ("数据文档尚未生成。", "Data Docs have not been built yet."),
    "wave_null": ("轮次缺失或格式错误", "wave missing or malformed"),
    "league_intro": (
        "{league}各旗县（市、区）{wave}轮情况；教师指标附95%置信区间。",
        "Counties of {league}, wave {wave}; teacher figures with 95% intervals.",
    ),
    "chart_county": (
        "{league}各旗县：周非教学负担时长与减负获得感净值（{wave}轮）",
        "Counties of {league}: weekly non-teaching hours and net felt reduction (wave {wave})",
    ),
    "chart_league_trend": (
        "{league}：测得的负担与感受到的减负（至{wave}轮）",
        "{league}: measured burden and felt reduction (to wave {wave})",
    ),
    "county_table": ("各旗县指标", "County figures"),
    "indicator": ("指标", "Indicator"),
    "direct_estimate": ("直接估计（95%置信区间）", "Direct estimate (95% interval)"),
    "model_estimate": (
        "模型估计（Fay–Herriot，±约95%区间半宽）",
        "Model-based (Fay–Herriot, ± about a 95% half-width)",
    ),
    "direction": ("趋势方向", "Trend"),
    "county_figures": ("{county}（{code}）{wave}轮指标", "{county} ({code}), wave {wave}"),
    "county_intro": (
        "所属盟市：{league}。直接估计来自本旗县的教师问卷；样本薄弱时另列模型估计，直接估计始终保留。",
        "League: {league}. Direct figures come from this county's teacher survey; where the sample is "
        "thin a model-based figure stands beside them, and the direct one is always kept.",
    ),
    "county_trend_intro": (
        "各轮次的直接估计；趋势方向仅在最新轮次的报告中给出。",
        "Direct figures wave by wave; the trend's direction is given in the latest set only.",
    ),
    "county_alerts": ("所属盟市{league}的预警（{wave}轮）", "Alerts for its league, {league} (wave {wave})"),
    "county_pages": ("旗县页面", "County pages"),
    "back_to_league": ("返回{league}", "Back to {league}"),
    "entry_title": ("全区减负成效（{wave}轮）", "The region at a glance (wave {wave})"),
    "entry_intro": (
        "最新轮次{wave}的全区结论：教师感受到的减负、督查检查减半目标与预警；下表为各盟市的同样结论。"
        "减负获得感净值是感到减轻与感到加重的教师比例之差，以百分点表示。",
        "The region's answer for the latest wave, {wave}: the reduction teachers feel, the inspection "
        "target and the alerts, then the same verdicts per league. The net felt reduction is the share "
        "feeling a lighter burden minus the share feeling a heavier one, in percentage points.",
    ),
    "entry_leagues": ("各盟市结论（{wave}轮）", "Verdicts by league (wave {wave})"),
    "alerts_of": ("{severity}级预警", "{severity} alerts"),
    "all_reports": ("全部报告", "All reports"),
    "pdf": ("打印版（PDF）", "Printable (PDF)"),
    "pdf_entry": ("本页打印版（PDF）", "This page as PDF"),
    "no_files_loaded": (
        "所有上传文件均被拒收，尚无可用数据。被拒收的文件及原因如下：",
        "Every landing file was rejected, so there is no data yet. The rejected files and why:",
    ),
    "league_alerts": ("本盟市预警（{wave}轮）", "Alerts for this league (wave {wave})"),
    "footnotes": ("说明", "Notes"),
    "generated_from": (
        "由 jianfu 流水线依据数据仓库汇总表生成；仅含汇总数据。",
        "Built by the jianfu pipeline from the warehouse marts; aggregates only.",
    ),
}

RULES: dict[str, tuple[str, str]] = {
    "red_line_item": ("红线事项发生", "Red-line item occurring"),
    "burden_rebound": ("负担反弹", "Burden rebound"),
    "inspection_target_missed": ("督查检查未减半", "Inspection target missed"),
    "secondment_over_6m": ("借用超过半年", "Secondment over six months"),
    "low_completeness": ("填报率偏低", "Low reporting rate"),
    "not_felt": ("减负教师无感", "Reduction not felt"),
    "paper_reduction": ("疑似纸面减负", "Reduction on paper only"),
    "policy_cap_breached": ("突破政策红线", "Policy cap breached"),
}

SEVERITY: dict[str, tuple[str, str]] = {"high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")}

DIRECTION: dict[str, tuple[str, str]] = {
    "improving": ("改善", "improving"),
    "worsening": ("恶化", "worsening"),
    "no_change": ("无显著变化", "no significant change"),
}


def direction_labels() -> list[dict[str, str]]:
    """DIRECTION as rows for SQL (marts.alerts binds them as $direction_labels): the words live here only."""
    return [{"direction": key, "zh": zh, "en": en} for key, (zh, en) in DIRECTION.items()]


SOURCES: dict[str, tuple[str, str]] = {
    "teacher_survey": ("教师问卷", "Teacher survey"),
    "school_report": ("学校报表", "School report"),
    "campus_event": ("进校园事项登记", "Campus events"),
}

SCHOOL_COUNTS: dict[str, tuple[str, str]] = {
    "n_inspections": ("督查检查次数", "Inspections"),
    "n_inspections_unapproved": ("未经审批的督查检查次数", "Unapproved inspections"),
    "n_campus_events": ("进校园活动次数", "Campus events"),
    "n_forms_requests": ("填表要求次数", "Form requests"),
    "n_nonteaching_meetings": ("非教学会议次数", "Non-teaching meetings"),
    "n_social_exams": ("社会考试次数", "Social exams"),
}


def text(key: str, lang: str, **values) -> str:
    """The UI string `key` in `lang`, with `values` filled in."""
    template = UI[key][LANGS.index(lang)]
    return template.format(**values) if values else template


def label(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str:
    """A coded value's name in `lang`; an unknown code shows as itself."""
    if key is None:
        return "—"
    pair = table.get(key)
    return pair[LANGS.index(lang)] if pair else key


POLICY_UI: dict[str, tuple[str, str]] = {
    "page_policy": ("政策红线", "Policy caps"),
    "policy_intro": (
        "依据教师厅〔2025〕2号与内蒙古自治区进校园事项白名单，对登记的进校园事项逐校核查。"
        "学校是机构，不作小样本隐藏。每条红线按周期列出（截至本轮，最近的在前）。",
        "Each school's registered campus events checked against 教师厅〔2025〕2号 and the Inner "
        "Mongolia white list. Schools are institutions: nothing is suppressed. Each cap is listed "
        "per period up to this wave, newest first.",
    ),
    "policy_compliance": (
        "各红线遵守情况（违规学校数 / 有登记的学校数）",
        "Compliance per cap (schools breaching / schools with registered events)",
    ),
    "policy_rule": ("红线", "Cap"),
    "policy_source": ("依据", "Source"),
    "policy_period": ("周期", "Period"),
    "policy_breaching_schools": ("违规学校", "Schools breaching"),
    "policy_school_code": ("学校代码", "School code"),
    "policy_school_name": ("学校", "School"),
    "policy_observed": ("实际", "Observed"),
    "policy_limit": ("上限", "Cap"),
    "policy_status": ("处理状态", "Case status"),
    "policy_assignee": ("责任人", "Assignee"),
    "policy_note": ("备注", "Note"),
    "policy_updated": ("更新时间", "Updated"),
    "policy_trend": ("各学期违规学校数", "Schools breaching per semester"),
    "policy_trend_source": (
        "来源：截至{wave}轮的进校园事项登记与 policy_rules.csv；n = {n}（有登记事项的学校数）",
        "Source: the campus-event register up to wave {wave} and policy_rules.csv; n = {n} schools with registered events",
    ),
    "policy_trend_axis": ("学期（按首次违规事项日期）", "Semester (of the first breaching event)"),
    "policy_open_cases": ("各盟市待核查案件", "Open cases per league"),
    "policy_cases_open": ("待核查", "Open"),
    "policy_cases_confirmed": ("已核实", "Confirmed"),
    "policy_cases_total": ("案件总数", "All cases"),
    "policy_cross_checks": (
        "登记与报表、问卷的交叉核验（本轮，仅列出存疑学校）",
        "Register against reports and survey (this wave, flagged schools only)",
    ),
    "policy_check": ("核验", "Check"),
    "policy_reported": ("报表/问卷", "Reported"),
    "policy_events": ("登记事项数", "Registered events"),
    "policy_none": ("无", "None"),
    "policy_no_events": (
        "尚无进校园事项登记（landing/campus_event/）。",
        "No campus events registered yet (landing/campus_event/).",
    ),
    "policy_case_history": ("政策红线案件记录", "Policy-cap case history"),
    "check_school_report_inspections": (
        "学校上报督查检查次数与登记不符",
        "School-reported inspections differ from the register",
    ),
    "check_teacher_inspections": (
        "疑似纸面合规：教师报告督查检查而无登记",
        "Paper compliance: teachers report inspections, none registered",
    ),
    "check_teacher_campus_activities": (
        "疑似纸面合规：教师反映随意进校园而无登记",
        "Paper compliance: teachers report events held at will, none registered",
    ),
}
UI.update(POLICY_UI)
