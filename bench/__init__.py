"""Benchmarks: `python -m bench` (see bench/__main__.py) and the risk engine's data."""
