"""The schedule: every Monday morning, refresh the latest wave and every cross-wave mart."""

import dagster as dg

from pipelines.partitions import waves_partitions


def build_refresh_schedule(job) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job,
        cron_schedule="0 6 * * 1",
        execution_timezone="Asia/Shanghai",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def weekly_refresh(context: dg.ScheduleEvaluationContext):
        """The latest registered wave, with the marts and reports that span all waves."""
        assert waves_partitions.name is not None
        waves = context.instance.get_dynamic_partitions(waves_partitions.name)
        if not waves:
            return dg.SkipReason("no wave registered yet")
        latest = max(waves)
        return dg.RunRequest(partition_key=latest, run_key=f"{latest}:{context.scheduled_execution_time:%Y-%m-%d}")

    return weekly_refresh
