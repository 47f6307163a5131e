"""The one exception type for bad user input: its message says what is wrong and how to fix it."""


class ConfigError(ValueError):
    """Bad user input (unknown name, value out of range, missing data). The CLI prints the
    message as one paragraph and exits non-zero, without a traceback."""


def unknown_name(kind: str, name: str, known) -> ConfigError:
    known = sorted(known)
    return ConfigError(f"Unknown {kind} {name!r}. Known {kind}s: {', '.join(known)}.")
