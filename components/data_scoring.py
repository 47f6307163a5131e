"""DataScoring: per-example scores of the training split -> a Scores artifact.

K independently initialized networks are each trained for `steps`, then scored; the artifact
holds the mean score per example, keyed by stable index.

Methods:
- el2n: ||softmax(f(x)) - onehot(y)||_2 (Paul et al. 2021), mean over networks.
- grand: per-example loss-gradient norm over all parameters, mean over networks.
- entropy: predictive entropy of the networks' mean prediction (active-learning baseline).
- forgetting: forgetting events counted during each network's training (Toneva et al. 2019)
  from the training step's own predictions; never-learned examples score their presentation
  count (above any learned example), see ForgettingCounter.scores. Extra columns:
  never_learned (in every network), ever_learned (in some network), unforgettable (learned
  and never forgotten in every network), forgetting_events (summed over networks).
- svp: selection via proxy (Coleman et al. 2020): `proxy_score` computed with a smaller proxy
  network (`proxy_model` at `proxy_width` times the model's width).

With a `labels` input (a Labels artifact, from LabelNoise), the networks train on and are scored against the
corrupted labels.

Payload (components.artifacts.Scores): scores.csv (index, label, score, ...), networks/network_KK.npz (one atomic unit per
network, reused on rerun), histogram.png. On a streamed training split (lth_tf/data/streaming.py) each network's EL2N or
GraNd comes from one scores.write_scores pass (networks/network_KK.csv, written batch by batch: the logits are never held
whole), the same numbers as in memory; entropy (of the networks' mean prediction) stops with a ConfigError before any
training.
"""
import dataclasses
from pathlib import Path
from typing import Optional

import gin
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.artifacts.base import train_steps, unit_name  # noqa: E402
from components.artifacts.examples import training_split  # noqa: E402
from components.artifacts.scores import Scores  # noqa: E402
from components import ComponentSpec  # noqa: E402
from lth_tf import networks  # noqa: E402
from lth_tf.data import DatasetHparams, is_streamed, load_dataset, steps_per_epoch  # noqa: E402
from lth_tf.errors import ConfigError, unknown_name  # noqa: E402
from lth_tf.io import load_npz, save_npz, save_png, write_csv  # noqa: E402
from lth_tf.metrics import scores as S  # noqa: E402
from lth_tf.metrics.forgetting import ForgettingCounter  # noqa: E402
from lth_tf.models import ModelHparams  # noqa: E402
from lth_tf.training import TrainingHparams, predict, to_steps, train  # noqa: E402

METHODS = ("el2n", "grand", "entropy", "forgetting", "svp")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class DataScoringParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams  # the scoring networks' recipe; training stops after `steps`
    method: str = "el2n"
    networks: int = 10  # K independently initialized networks
    steps: Optional[str] = None  # t: training length before scoring; None = the whole budget
    seed: int = 0  # the K networks' initializations and data orders derive from it
    proxy_score: str = "entropy"  # svp: el2n | grand | entropy | forgetting
    proxy_model: str = ""  # svp: the proxy's architecture ('' = the model's)
    proxy_width: float = 0.25  # svp: the proxy's width relative to the model's
    batch_size: int = 512  # examples per scoring batch (el2n, grand, entropy)

    def __post_init__(self):
        if self.method not in METHODS:
            raise unknown_name("scoring method", self.method, METHODS)
        if self.proxy_score not in METHODS or self.proxy_score == "svp":
            raise unknown_name("proxy score", self.proxy_score, [m for m in METHODS if m != "svp"])
        if self.networks < 1:
            raise ConfigError(f"DataScoringParams.networks={self.networks} must be >= 1.")
        if not self.proxy_width > 0:
            raise ConfigError(f"DataScoringParams.proxy_width={self.proxy_width} must be positive.")
        if self.steps is not None:
            to_steps(self.steps, 1, "DataScoringParams.steps")

    def score_kind(self) -> str:
        return self.proxy_score if self.method == "svp" else self.method

    def scoring_model(self) -> ModelHparams:
        if self.method != "svp":
            return self.model
        return ModelHparams(self.proxy_model or self.model.name, self.model.width * self.proxy_width,
                            self.model.initializer)


def network_seed(seed: int, k: int) -> int:
    """Network k's seed: independent of other seeds and of the mask search's init (seed)."""
    return int(np.random.SeedSequence([seed, k, 0x5C0E]).generate_state(1)[0] % (2**31 - 1))


def check_streamable(p: DataScoringParams, streamed: bool):
    """A streamed split is scored in one pass per network, each example's score written as the
    pass goes; entropy of the networks' *mean* prediction needs every network's probabilities
    (examples x classes) at once, which a stream does not hold: a ConfigError, before any work."""
    if streamed and p.score_kind() == "entropy":
        raise ConfigError(
            f"DataScoring {p.method!r} scores the entropy of the mean prediction of {p.networks} networks, which "
            f"needs each network's class probabilities for every training example at once; dataset "
            f"{p.dataset.name!r} streams from disk (DatasetHparams.storage is 'stream', or 'auto' chose it for a "
            f"large dataset) and its scores are written example by example. Score it with method 'el2n', 'grand' "
            f"or 'forgetting' (or svp with one of those as proxy_score), or set DatasetHparams.storage = 'memory' "
            f"if the dataset fits in host memory.")


def validate(p: DataScoringParams, inputs):
    """While planning (the executor checks the split itself again): scores a stream can give."""
    from lth_tf.data.dataset import storage
    check_streamable(p, storage(p.dataset) == "stream")


def score_network(p: DataScoringParams, ds, split, k: int, steps: int, ctx, scores_csv: Optional[Path] = None) -> dict:
    """Trains network k for `steps` and scores `split` with it: arrays for one atomic unit
    (for a streamed split, EL2N and GraNd come from one write_scores pass, the same numbers)."""
    kind = p.score_kind()
    seed = network_seed(p.seed, k)
    model = networks.build_network(p.scoring_model(), ds.input_shape, ds.num_classes, seed)
    tracker = ForgettingCounter(int(split.index.max()) + 1) if kind == "forgetting" else None
    train(model, ds, p.training, seed=seed, end_step=steps, train_split=split,
          on_batch=tracker.on_batch if tracker else None, label=f"scoring {p.method} network {k}",
          log_dir=ctx.tensorboard_dir / f"scoring_{p.method}" / unit_name("network", k),
          log_hparams={"variant": f"scoring_{p.method}", "level": 0}, verbose=ctx.verbose)
    if kind in ("el2n", "grand") and is_streamed(split):
        if scores_csv is None:
            raise ValueError("a streamed split's scores are written to a file: pass scores_csv")
        return {"score": S.pass_scores(model, ds, split, scores_csv, (kind,), p.batch_size)[kind]}
    if kind == "el2n":
        return {"score": S.el2n_scores(model, ds, split, p.batch_size)}
    if kind == "grand":
        return {"score": S.grand_scores(model, ds, split, p.batch_size)}
    if kind == "entropy":
        probs = S.softmax(predict(model, ds, split, p.batch_size))
        return {"score": S.predictive_entropy(probs), "probs": probs.astype(np.float32)}
    i = split.index
    return {"score": tracker.scores()[i], "learned": tracker.learned[i], "forgetting": tracker.forgetting[i],
            "presentations": tracker.presentations[i]}


def combine(kind: str, per_network) -> dict:
    """The artifact's columns from the networks' arrays."""
    if kind == "entropy":
        return {"score": S.predictive_entropy(np.mean([r["probs"] for r in per_network], 0))}
    columns = {"score": np.mean([r["score"] for r in per_network], 0)}
    if kind == "forgetting":
        learned = np.array([r["learned"] for r in per_network])
        forgetting = np.array([r["forgetting"] for r in per_network])
        columns.update(never_learned=~learned.any(0), ever_learned=learned.any(0),
                       unforgettable=(learned & (forgetting == 0)).all(0), forgetting_events=forgetting.sum(0))
    return columns


def plot_histogram(scores, title: str, path: Path):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(scores[np.isfinite(scores)], bins=50, color="tab:blue")
    ax.set_xlabel("score")
    ax.set_ylabel("examples")
    ax.set_title(title)
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def execute(p: DataScoringParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    split = training_split(ds, labels=inputs.get("labels"))
    check_streamable(p, is_streamed(split))
    spe = steps_per_epoch(len(split), p.training.batch_size)
    steps = to_steps(p.steps, spe, "DataScoringParams.steps") if p.steps else p.training.total_steps(spe)
    per_network = []
    for k in range(p.networks):
        unit = Scores.network_unit(out, k)
        if not unit.exists():
            save_npz(unit, score_network(p, ds, split, k, steps, ctx, scores_csv=unit.with_suffix(".csv")))
        per_network.append(load_npz(unit))
    columns = combine(p.score_kind(), per_network)
    frame = pd.DataFrame({"index": split.index, "label": split.y, **columns})
    write_csv(out / "scores.csv", frame)
    name = p.method if p.method != "svp" else f"svp ({p.proxy_score}, {p.scoring_model().name} x{p.scoring_model().width:g})"
    plot_histogram(frame["score"].to_numpy(np.float64), f"{name}: {p.networks} networks, {steps} steps",
                   out / "histogram.png")
    score = frame["score"]
    return {"method": p.method, "score_kind": p.score_kind(), "networks": p.networks, "steps": steps,
            "train_steps": p.networks * steps + train_steps(inputs.get("labels")), "examples": len(frame),
            "num_classes": int(ds.num_classes),
            "score_mean": float(score.mean()), "score_std": float(score.std()),
            "score_min": float(score.min()), "score_max": float(score.max())}


SPEC = ComponentSpec(name="DataScoring", inputs={"labels": "Labels?"}, output="Scores",
                     params=DataScoringParams, executor=execute, validate=validate)
