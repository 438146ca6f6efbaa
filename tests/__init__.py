"""The test suite; a regular package so `tests.*` never resolves to a stray site-packages `tests`."""
