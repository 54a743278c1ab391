"""Performance comparisons; each module runs as `python -m benchmarks.<name> --quick` and ends with a JSON line."""
