"""K ticket searches in lockstep, their trainings fused: `search_many` runs each search's level
loop (levels.search, unchanged) in its own thread; every train() call of a search waits until
all running searches wait in one, then the waiting trainings run as one fused group
(lth_tf/training/fused.train_fused) and each search goes on with its own result. So the K
searches yield exactly the LevelRun records K separate `levels.search` calls would (masks,
ledgers, snapshots; weights within the fused trainer's float tolerance), level by level.

Trainings that cannot share a step (other datasets, batch sizes, budgets, architectures; a
TensorBoard run asked for) run one by one with their own trainer, with one log line saying why.
"""
import logging
import queue
import threading
from typing import Iterator, List, Optional, Sequence, Tuple

from lth_tf.lottery.levels import LevelRun, Plan, Resume, search
from lth_tf.training.fused import Member, NotFusable, train_fused

_LOG = logging.getLogger("lth_tf.lottery")


class _Stop(Exception):
    """Raised in the searches' threads when the caller stopped (an error elsewhere, or closed)."""


class _Rendezvous:
    """Collects the searches' training requests; when every running search waits in one, the
    thread whose request completes the round trains the round for all."""

    def __init__(self, count: int):
        self.cond = threading.Condition()
        self.running, self.pending, self.results, self.stopped = count, {}, {}, False

    def train(self, index: int, request: tuple):
        with self.cond:
            self.pending[index] = request
            self._maybe_run()
            while index not in self.results and not self.stopped:
                self.cond.wait()
            if index not in self.results:
                raise _Stop()
            result = self.results.pop(index)
        if isinstance(result, BaseException):
            raise result
        return result

    def leave(self):
        with self.cond:
            self.running -= 1
            self._maybe_run()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def _maybe_run(self):
        if self.pending and len(self.pending) == self.running and not self.stopped:
            requests, self.pending = sorted(self.pending.items()), {}
            try:
                self.results.update(_train_round(requests))
            except Exception as e:  # every search of the round sees the error
                self.results.update({i: e for i, _ in requests})
            self.cond.notify_all()


def _train_round(requests: List[Tuple[int, tuple]]) -> dict:
    """{search index: outcome} of one round: fused where they can share a step, else alone."""
    groups = {}
    for index, (trainer, model, start_step, tag, snapshots) in requests:
        key = (id(trainer.ds), id(trainer.train_split), trainer.hp.batch_size,
               trainer.describe(tag).get("log_dir") is not None)
        groups.setdefault(key, []).append((index, trainer, model, start_step, tag, snapshots))
    results = {}
    for key, group in groups.items():
        reason = "TensorBoard runs are written by train() only" if key[-1] else None
        if len(group) > 1 and reason is None:
            members = [Member(model, t.hp, t.seed, start, snaps) for _, t, model, start, _, snaps in group]
            try:
                trained = train_fused(members, group[0][1].ds, train_split=group[0][1].train_split,
                                      verbose=group[0][1].verbose, label=f"fused x{len(group)}")
                results.update({g[0]: r for g, r in zip(group, trained)})
                continue
            except NotFusable as e:
                reason = str(e)
        if len(group) > 1:
            _LOG.info(f"searches {[g[0] for g in group]} train one by one: {reason}")
        for index, trainer, model, start, tag, snaps in group:
            results[index] = trainer.train(model, start, tag, snaps)
    return results


class _SearchTrainer:
    """The trainer search `index` sees: its own trainer, whose train() goes through the rendezvous."""

    def __init__(self, trainer, index: int, rendezvous: _Rendezvous):
        self.trainer, self.index, self.rendezvous = trainer, index, rendezvous

    def train(self, model, start_step: int, tag=None, snapshot_steps=()):
        return self.rendezvous.train(self.index, (self.trainer, model, start_step, tag, tuple(snapshot_steps)))

    def __getattr__(self, name):  # network(), scoring_batch(), ...: the search's own trainer
        return getattr(self.trainer, name)


def search_many(models: Sequence, trainers: Sequence, plans: Sequence[Plan],
                resumes: Optional[Sequence[Optional[Resume]]] = None) -> Iterator[Tuple[int, LevelRun]]:
    """Runs `levels.search(models[i], trainers[i], plans[i], resumes[i])` for every i, their
    trainings fused round by round, and yields (i, LevelRun) as the levels finish (a search's own
    levels in order). `trainers`: LoopTrainers (lth_tf/lottery/loop_trainer.py); searches that
    share a dataset, batch size and budget fuse. An error in one search is raised here after
    the others are stopped."""
    count = len(models)
    resumes = list(resumes) if resumes is not None else [None] * count
    if not len(trainers) == len(plans) == len(resumes) == count:
        raise ValueError("search_many needs one trainer, plan and resume per model")
    rendezvous, out = _Rendezvous(count), queue.Queue()

    def run(i):
        try:
            for level in search(models[i], _SearchTrainer(trainers[i], i, rendezvous), plans[i], resumes[i]):
                out.put((i, level))
        except _Stop:
            pass
        except BaseException as e:
            out.put((i, e))
        finally:
            rendezvous.leave()
            out.put((i, None))

    threads = [threading.Thread(target=run, args=(i,), daemon=True, name=f"search-{i}") for i in range(count)]
    for t in threads:
        t.start()
    finished = 0
    try:
        while finished < count:
            i, item = out.get()
            if item is None:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield i, item
    finally:
        rendezvous.stop()
        for t in threads:
            t.join()
