"""Benchmarks: each figure beside the floor it cannot beat, measured in the same run (`make bench`)."""
