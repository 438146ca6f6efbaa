"""Scaffolding for tests, `make demo` and the benchmarks; never shipped, never imported by product code."""
