"""nbperf: fast latency estimation of neural networks on tiled NPUs."""

__version__ = "0.1.0"
