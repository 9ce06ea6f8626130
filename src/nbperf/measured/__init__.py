"""Measured timings, read from the files profilers and benchmark tools write.

``read_layer_times``: per-layer times (benchmark_app's counters reports, or a ``layer,time_us``
CSV); ``read_runs``: whole-model latency and throughput (benchmark_app's ``benchmark_report``, or a
table). ``matching`` pairs measured layer names with nbperf's layers.
"""

from nbperf.measured.layers import MeasuredLayer, MeasuredLayers, read_layer_times
from nbperf.measured.runs import MeasuredRun, read_runs

__all__ = ["MeasuredLayer", "MeasuredLayers", "MeasuredRun", "read_layer_times", "read_runs"]
