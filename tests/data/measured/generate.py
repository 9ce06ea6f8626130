"""Write the benchmark_app report fixtures in this folder with OpenVINO's own report writer.

SYNTHETIC: the counters below are made up, not silicon measurements. They are handed to the
``openvino`` wheel's benchmark_app report writer (``openvino.tools.benchmark.utils.
statistics_report``: ``CsvStatisticsReport``, ``JsonStatisticsReport``), so the files have exactly
the layout benchmark_app writes; nothing is edited after it. The sorted report's rows are built
as benchmark_app's ``print_perf_counters_sort`` builds them. Run from the repository root, with
the openvino extra installed:

    python3 tests/data/measured/generate.py
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).parent
# (name, type, exec type, real us, cpu us): ResNet-50 layer names as PyTorch exports them
LAYERS = (
    ("/conv1/Conv", "Convolution", "DPU", 96, 120),
    ("/relu/Relu", "Relu", "DPU", 0, 0),  # fused into the convolution: optimized out
    ("/maxpool/MaxPool", "MaxPool", "DPU", 21, 25),
    ("/layer1/layer1.0/conv1/Conv", "Convolution", "DPU", 12, 14),
    ("/layer1/layer1.0/conv2/Conv", "Convolution", "DPU", 35, 41),
    ("/layer1/layer1.0/conv3/Conv", "Convolution", "DPU", 18, 22),
    ("/layer1/layer1.0/downsample/downsample.0/Conv", "Convolution", "DPU", 17, 20),
    ("/layer1/layer1.0/Add", "Add", "DPU", 9, 10),
    ("/avgpool/GlobalAveragePool", "ReduceMean", "Shave", 6, 7),
    ("/Flatten", "Reshape", "DMA", 2, 2),
    ("/fc/Gemm", "MatMul", "DPU", 8, 9),
)
REQUESTS = 2  # the detailed report: the second request 10% slower than the first


def profiling(scale: float):
    """One request's profiling info as OpenVINO's ``ProfilingInfo`` objects."""
    import openvino as ov

    out = []
    for name, kind, exec_type, real_us, cpu_us in LAYERS:
        info = ov.ProfilingInfo()
        info.node_name, info.node_type, info.exec_type = name, kind, exec_type
        info.real_time = timedelta(microseconds=round(real_us * scale))
        info.cpu_time = timedelta(microseconds=round(cpu_us * scale))
        status = ov.ProfilingInfo.Status
        info.status = status.OPTIMIZED_OUT if real_us == 0 else status.EXECUTED
        out.append(info)
    return out


def sorted_rows(request):
    """The rows benchmark_app's ``print_perf_counters_sort`` returns (sort_flag "sort")."""
    total = sum(pi.real_time.microseconds for pi in request)
    rows = [[pi.node_name, pi.status, pi.node_type, pi.real_time.microseconds, pi.cpu_time.microseconds,
             round(pi.real_time.microseconds / total, 4), pi.exec_type] for pi in request]
    return sorted(rows, key=lambda row: row[3], reverse=True)


def generate(folder: Path) -> list[Path]:
    """Every fixture, written into ``folder`` by OpenVINO's report writer."""
    import openvino as ov
    from openvino.tools.benchmark.utils.statistics_report import (
        CsvStatisticsReport,
        JsonStatisticsReport,
        StatisticsReport,
        averageCntReport,
        detailedCntReport,
    )

    folder.mkdir(parents=True, exist_ok=True)
    requests = [profiling(1.0 + 0.1 * r) for r in range(REQUESTS)]
    for writer in (CsvStatisticsReport, JsonStatisticsReport):
        for kind in (detailedCntReport, averageCntReport):
            report = writer(StatisticsReport.Config(kind, str(folder)))
            # the average writer sums into the objects it is given: hand it fresh ones
            report.dump_performance_counters([profiling(1.0 + 0.1 * r) for r in range(REQUESTS)])
        writer(StatisticsReport.Config(averageCntReport, str(folder))).dump_performance_counters_sorted(
            sorted_rows(requests[0]))
    for writer in (CsvStatisticsReport, JsonStatisticsReport):
        report = writer(StatisticsReport.Config(averageCntReport, str(folder)))
        report.add_parameters(StatisticsReport.Category.COMMAND_LINE_PARAMETERS,
                              [("-m", "resnet50.xml"), ("-d", "NPU"), ("-hint", "latency")])
        report.add_parameters(StatisticsReport.Category.RUNTIME_CONFIG,
                              [("topology", "resnet50"), ("target device", "NPU"), ("API", "sync"),
                               ("precision", "UNSPECIFIED"), ("number of parallel infer requests", "1")])
        report.add_parameters(StatisticsReport.Category.EXECUTION_RESULTS,
                              [("total execution time (ms)", "60012.40"),
                               ("total number of iterations", "24001"), ("latency (ms)", "2.41"),
                               ("avg latency", "2.45"), ("min latency", "2.30"),
                               ("max latency", "3.10"), ("throughput", "399.94")])
        report.dump()
    print(f"written by OpenVINO {ov.__version__}'s benchmark_app report writer")
    return sorted(folder.glob("benchmark_*"))


if __name__ == "__main__":
    try:
        import openvino  # noqa: F401
    except ImportError:
        sys.exit("generate.py needs the openvino package (pip install '.[openvino]'); the fixtures are "
                 "committed")
    for path in generate(HERE):
        print(path)
