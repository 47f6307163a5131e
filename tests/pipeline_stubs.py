"""A Runner stand-in for config tests: it records the first execution a pipeline asks for and
stops there, so a test sees every check the pipeline makes before its first training."""
from pathlib import Path


class Stop(Exception):
    pass


class FirstRunStops:
    output_dir = Path("/nonexistent")

    def run(self, spec, params, **inputs):
        self.first = (spec.name, params)
        raise Stop
