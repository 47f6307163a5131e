"""Benchmarks: speed targets measured side by side (run the scripts; they are not tests)."""
