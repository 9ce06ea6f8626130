"""Correlation with measured layer times, and calibration of per-op-class compute factors.

``correlate`` compares an estimate with a measured file layer by layer; ``fit`` pulls the
estimate toward measurements by per-class factors that ``--arch`` takes as an overlay YAML.
"""
