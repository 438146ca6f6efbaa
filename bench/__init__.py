"""The project's benchmarks; `python -m bench` (make bench) runs them all."""
