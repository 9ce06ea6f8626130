"""Reports of an estimate: terminal table, JSON and CSV files."""

from nbperf.report.files import to_csv, to_json, write_csv, write_json
from nbperf.report.records import estimate_record
from nbperf.report.table import print_report

__all__ = ["estimate_record", "print_report", "to_csv", "to_json", "write_csv", "write_json"]
