"""The one exception type for bad user input: its message says what is wrong and how to fix it."""
import difflib


class ConfigError(ValueError):
    """Bad user input (unknown name, value out of range, missing data). The CLI prints the
    message as one paragraph and exits non-zero, without a traceback."""


def did_you_mean(name: str, known) -> str:
    """' Did you mean 'lr'?' for the closest known name, '' when none is close (a typo's fix)."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name: str, known) -> ConfigError:
    known = sorted(known)
    return ConfigError(f"Unknown {kind} {name!r}.{did_you_mean(name, known)} Known {kind}s: {', '.join(known)}.")
