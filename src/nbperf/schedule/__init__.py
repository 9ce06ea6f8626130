"""Scheduling: order NPU tasks in time and place their data in CMX or DDR."""

from nbperf.schedule.serial import schedule_serial
from nbperf.schedule.timeline import Schedule, TimedTask

__all__ = ["Schedule", "TimedTask", "schedule_serial"]
