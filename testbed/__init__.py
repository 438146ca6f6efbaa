"""Scaffolding for tests, `make demo`, the benchmarks and the rehearsals.

Never shipped, never imported by product code.
"""
