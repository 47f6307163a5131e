"""A study's progress where no terminal shows a bar: stderr redirected to a file (nohup, CI, a
cluster job) or a pipe gets plain lines instead of tqdm's carriage returns, which such a file
would only show at the end, as one line.

`Lines` has the part of tqdm's interface the Runner and the Ray executor use (`update`,
`set_postfix_str`, `total`, `refresh`, `close`) and prints, when an execution finishes,

    study: 5/12 executions done, 1:02 elapsed, ETA 1:27 [3 reused; MaskSearch mu0.9_bs128_rw5it/seed0]

at most one line per `every` seconds (the first and the last always): the counts, the time since
the command began (pipelines.STARTED, as its closing "done in Ns") and the time left at the rate
of this run's executions (reused ones take no time, so they are left out of the rate). When the
bracket's note changes after `quiet` seconds without a line (the next execution starts, or the
Ray executor's each-second "ray: 3 done, 2 running, 5 waiting"), a line says so: a long study
is never silent for long between executions.
"""
import sys
import time

import pipelines


def clock(seconds: float) -> str:
    """'0:07', '12:34', '1:02:03'."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Lines:
    def __init__(self, total: int, initial: int = 0, stream=None, every: float = 10.0, quiet: float = 30.0,
                 now=time.time, began: float = None):
        self.total, self.n, self.first = total, initial, initial  # `first`: done before this run began
        self.stream, self.every, self.quiet, self.now = stream, every, quiet, now
        self.began = pipelines.STARTED if began is None else began  # the command's start: elapsed
        self.started, self.shown, self.postfix = now(), None, ""  # the executions' start: the rate

    def set_postfix_str(self, text: str):
        self.postfix = text  # the Runner names the execution that runs next, then counts it done
        if self.now() - (self.started if self.shown is None else self.shown) >= self.quiet:
            self.refresh()

    def update(self, n: int = 1):
        self.n += n
        if self.shown is None or self.now() - self.shown >= self.every or self.n >= self.total:
            self.refresh()

    def refresh(self):
        now, done, left = self.now(), self.n - self.first, self.total - self.n
        eta = f", ETA {clock((now - self.started) / done * left)}" if done and left > 0 else ""
        print(f"study: {self.n}/{self.total} executions done, {clock(now - self.began)} elapsed{eta}"
              + (f" [{self.postfix}]" if self.postfix else ""), file=self.stream or sys.stderr, flush=True)
        self.shown = self.now()

    def close(self):
        pass
