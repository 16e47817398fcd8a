"""Benchmarks behind `make bench`: each scenario prints one JSON object with its same-run baseline."""
