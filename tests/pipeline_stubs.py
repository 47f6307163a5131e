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


def main_in_process(config: str, output_dir, bindings, extra_flags=()) -> int:
    """pipelines.run's main() in this process (no interpreter start-up): its exit code, 0 when it
    returns. Flags and gin are reset before and after, so calls do not leak into each other."""
    import gin
    from absl import flags

    from pipelines import run
    argv = ["run", "--config", config, "--output_dir", str(output_dir), "--quiet", *extra_flags]
    for binding in bindings:
        argv += ["--gin_bindings", binding]
    flags.FLAGS.unparse_flags()
    flags.FLAGS(argv)
    gin.clear_config()
    try:
        run.main([])
        return 0
    except SystemExit as e:
        return e.code
    finally:
        gin.clear_config()
        flags.FLAGS.unparse_flags()
