"""The pipelines package. `STARTED`: when this process began its command. Every entry point
(`lth-tf` = pipelines.cli, `python -m pipelines.run`) imports this package first, before
TensorFlow and the rest, so "done in Ns" is the whole command's wall time."""
import time

STARTED = time.time()
