"""Scaffolding for tests, the demo and the benchmarks; never shipped, never imported by product code."""
