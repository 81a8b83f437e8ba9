"""Benchmarks of dna_zoo against the reference implementations: `python -m benchmarks --help`."""
