"""The JAX peer (`../shared/peers/peer_jax.py`) one epoch at a time, on request, so a benchmark
can alternate the peer's epochs with its own epoch by epoch (on a shared machine the load
changes within seconds: whole runs alternated measured the peer anywhere from 28k to 110k
examples/s).

    peer = JaxPeer(python, script)   # starts the peer, runs (and drops) its first epoch
    seconds = peer.epoch()           # one more masked epoch of the peer, timed from here
    peer.close()

The child process (this file run by the JAX interpreter) executes the peer script's own code:
everything before its `for masked in (False, True):` loop (data, init, the jitted epoch), then
that loop's body for `masked = True` only, with `jax.block_until_ready` extended to hand
control back after each epoch and wait for the next request. Only stdlib here: the child has
JAX but not lth-tf, the parent lth-tf but not JAX.
"""
import subprocess
import sys
import textwrap
import time

_LOOP = "\nfor masked in (False, True):\n"


class JaxPeer:
    def __init__(self, python: str, script: str):
        self.process = subprocess.Popen([python, __file__, str(script)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self._wait()  # the first epoch: compilation, dropped as the peer itself drops it

    def _wait(self):
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"the JAX peer stopped (said {line!r}); run it alone to see why")

    def epoch(self) -> float:
        """Seconds for one masked epoch of the peer (the pipe round trip is microseconds)."""
        start = time.perf_counter()
        self.process.stdin.write("go\n")
        self._wait()
        return time.perf_counter() - start

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write("stop\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


def _child(script: str):
    import jax  # noqa: the JAX interpreter's

    source = open(script).read()
    head, found, loop = source.partition(_LOOP)
    if not found:
        raise SystemExit(f"{script} has no {_LOOP.strip()!r} loop to run epoch by epoch")
    lines = loop.split("\n")
    end = next((i for i, line in enumerate(lines) if line.strip() and not line[0].isspace()), len(lines))
    body = textwrap.dedent("\n".join(lines[:end]))  # the loop's body
    real_block = jax.block_until_ready

    def block_then_hand_over(x):
        out = real_block(x)
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit(0)
        return out

    namespace = {"__name__": "__peer__"}
    sys.argv = [script, str(10 ** 9)]  # R: epochs until told to stop
    exec(compile(head, script, "exec"), namespace)
    jax.block_until_ready = block_then_hand_over
    namespace["masked"] = True
    exec(compile(body, script, "exec"), namespace)


if __name__ == "__main__":
    _child(sys.argv[1])
