"""The keras-tuner glue of components/tuning/__init__.py: a Tuner whose trials run the project's own
training (keras-tuner's built-in tuners reject tf_keras models), an error class that stops the
search with a trial's own error, and the oracle (a Bayesian one whose random state survives a resume).
keras-tuner is imported only inside these functions, when a search runs."""
import numpy as np

from lth_tf.errors import ConfigError


_FATAL = []


def trial_error():
    """The exception class carrying a trial's error through keras-tuner (created once, on first
    use, so keras-tuner is imported only when a search runs)."""
    if not _FATAL:
        import keras_tuner

        class TrialError(keras_tuner.errors.FatalError):
            pass
        _FATAL.append(TrialError)
    return _FATAL[0]


def tuner_class():
    import keras_tuner

    class _Tuner(keras_tuner.Tuner):
        """A keras-tuner Tuner whose trials run the project's own training (no hypermodel)."""

        def __init__(self, oracle, trial_fn, **kwargs):
            super().__init__(oracle=oracle, hypermodel=None, **kwargs)
            self._trial_fn = trial_fn

        def run_trial(self, trial, *args, **kwargs):
            try:
                return self._trial_fn(dict(trial.hyperparameters.values))
            except Exception as e:  # keras-tuner records ordinary exceptions as a failed trial and
                raise trial_error()(e) from e  # carries on: stop the search with the trial's own error

        def save_model(self, trial_id, model, step=0):  # nothing to save: trials write their own units
            pass

        def load_model(self, trial):  # keras-tuner's get_best_models(): trials keep no Keras model
            raise ConfigError("Tuning trials keep no Keras model to load: take the best recipe with "
                              "components.tuning.best_training(artifact), or read trials/<key>/ of the artifact.")
    return _Tuner


def _resumable_bayesian():
    """keras-tuner's Bayesian oracle, with the random generator it draws its acquisition
    restarts from saved in oracle.json: keras-tuner re-seeds it on reload, so a resumed search
    would otherwise propose other values than an uninterrupted one."""
    import keras_tuner

    class ResumableBayesianOracle(keras_tuner.oracles.BayesianOptimizationOracle):
        def get_state(self):
            state = super().get_state()
            kind, keys, pos, has_gauss, cached = self._random_state.get_state()
            state["random_state"] = [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]
            return state

        def set_state(self, state):
            super().set_state(state)
            if "random_state" in state:
                kind, keys, pos, has_gauss, cached = state["random_state"]
                self._random_state.set_state((kind, np.asarray(keys, np.uint32), pos, has_gauss, cached))
    return ResumableBayesianOracle


def oracle(p):  # p: components.tuning.TuningParams (which imports this module)
    import keras_tuner
    hp = keras_tuner.HyperParameters()
    for d in p.dimensions():
        d.declare(hp)
    objective = keras_tuner.Objective(p.objective, direction="max")
    common = dict(objective=objective, max_trials=int(p.max_trials), hyperparameters=hp, seed=int(p.oracle_seed),
                  tune_new_entries=False, allow_new_entries=False)
    if p.oracle == "bayesian":
        return _resumable_bayesian()(num_initial_points=int(p.initial_points), **common)
    if p.oracle == "random":
        return keras_tuner.oracles.RandomSearchOracle(**common)
    return keras_tuner.oracles.GridSearchOracle(**common)
