"""The tiny masked training of tests/test_multiworker.py: run by each worker process
(`python tests/multiworker_job.py`, TF_CONFIG set) and, as the one-worker reference with the same
global batch, by the test itself. It returns what the test compares, as plain JSON values.

IMP in miniature: a random 80%-density mask, 1 epoch, magnitude pruning to 60% density, rewind
to the initialization, 1 more epoch; then the evaluation, scoring (EL2N, GraNd) and barrier
passes, which run under the strategy too."""
import json
import sys
import time

BATCH = 64


def job(strategy_name: str) -> dict:
    import gin
    import numpy as np

    from lth_tf import networks
    from lth_tf.data import DatasetHparams, load_dataset
    from lth_tf.data.pipeline import steps_per_epoch, train_batches
    from lth_tf.metrics.barrier import linear_path
    from lth_tf.metrics.scores import el2n_scores, grand_scores
    from lth_tf.models import ModelHparams
    from lth_tf.sparsity import masks as M
    from lth_tf.sparsity import wrapping
    from lth_tf.training import TrainingHparams, evaluate, get_strategy, train
    from lth_tf.training.strategy import is_chief

    seconds = {"imports": time.process_time()}
    gin.bind_parameter("strategy_name.name", strategy_name)
    strategy = get_strategy()  # first: MultiWorkerMirroredStrategy must exist before other TF work
    seconds["strategy"] = time.process_time() - sum(seconds.values())
    ds = load_dataset(DatasetHparams(num_samples=1000))
    hp = TrainingHparams(budget="1ep", batch_size=BATCH, lr=0.05, momentum=0.9, weight_decay=1e-3)
    spe = steps_per_epoch(len(ds.train), hp.batch_size)

    # The slices of the first epoch's global batches that this process's replicas get, from the
    # same distributed iterator train() uses.
    batches = strategy.experimental_distribute_dataset(
        train_batches(ds, ds.train, hp.batch_size, 0 + hp.data_seed_offset, 0, spe))
    local_batches = [np.concatenate([t.numpy() for t in strategy.experimental_local_results(b[2])]).tolist()
                     for b in batches]

    model = networks.build_network(ModelHparams("lenet_300_100", width=0.1), ds.input_shape, ds.num_classes, seed=0)
    first_masks = M.random_prune(M.ones_like(wrapping.prunable_weights(model)), 0.8, np.random.default_rng(0))
    wrapping.set_masks(model, first_masks)
    init = wrapping.get_state(model)
    history = train(model, ds, hp, seed=0, verbose=False).history
    trained = wrapping.get_state(model)
    masks = M.magnitude_prune(wrapping.prunable_weights(model), first_masks, 0.6)
    wrapping.set_masks(model, masks)
    wrapping.set_state(model, init)
    history += train(model, ds, hp, seed=0, verbose=False).history

    seconds["training"] = time.process_time() - sum(seconds.values())
    pruned_max = 0.0  # over every copy of every kernel this process holds
    for kernel, _ in wrapping.kernel_mask_pairs(model):
        for copy in strategy.experimental_local_results(kernel):
            pruned = masks[kernel.name.split("/")[0]] == 0
            pruned_max = max(pruned_max, float(np.abs(copy.numpy()[pruned]).max()))
    final = wrapping.get_state(model)
    scores = {  # batch sizes that split unevenly over two replicas (67 = 33 + 34)
        "el2n": el2n_scores(model, ds, ds.test, batch_size=67).tolist(),
        "grand": grand_scores(model, ds, ds.test, batch_size=67).tolist(),
    }
    seconds["scores"] = time.process_time() - sum(seconds.values())
    barrier = linear_path(model, trained, final, ds, alphas=(0.0, 0.5, 1.0), masks=masks)
    seconds["barrier"] = time.process_time() - sum(seconds.values())
    return {
        "replicas": strategy.num_replicas_in_sync, "chief": is_chief(), "local_batches": local_batches,
        "masks": {k: v.astype(int).ravel().tolist() for k, v in masks.items()},
        "state": {k: v.ravel().tolist() for k, v in final.items()}, "pruned_max": pruned_max,
        "history": history, "test": evaluate(model, ds, ds.test), "scores": scores,
        "barrier": barrier.errors.tolist() + barrier.losses.tolist(), "seconds": seconds,
    }


if __name__ == "__main__":
    import lth_tf  # noqa: F401 (legacy Keras before TensorFlow)
    import tensorflow as tf

    # Two workers share two busy cores: one thread each, set before TensorFlow starts.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    print("RESULT " + json.dumps(job(sys.argv[1] if len(sys.argv) > 1 else "multi_worker")), flush=True)
