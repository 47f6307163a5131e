"""Peak memory and throughput of the streaming path at two dataset sizes, 10x apart.

    python bench/streaming_memory.py [--sizes 20000 200000] [--batch 256] [--train] [--memory]

Writes a synthetic tfds dataset (TFRecord shards of PNG-encoded 32x32x3 uint8 images and labels,
with tfds metadata, read back by tfds.builder_from_directory) per size under --data (kept and
reused), then in a fresh subprocess per size builds the streamed Dataset through the tfds
streaming source (lth_tf/data/tfds_source.py: tfds_stream_source, streaming.streamed_dataset)
and runs one epoch of training batches (decode, window shuffle, crop + flip, normalize;
--train: lth_tf.training.train of a small LeNet for one epoch). Each subprocess reports its
peak resident memory (VmHWM from /proc/self/status: the kernel's high-water mark, which counts
TensorFlow's allocations too, unlike tracemalloc) and the epoch's examples/s. --memory adds the
in-memory path (the whole split loaded into numpy, as DatasetHparams.storage='memory' does) for
contrast. Target: streamed peak memory flat across sizes, throughput per example within 10%.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHARDS = 8
TEST_EXAMPLES = 1000
SHAPE = (32, 32, 3)


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def write_synthetic(root: str, num_train: int, seed: int = 0) -> str:
    """A tfds dataset of `num_train` train and TEST_EXAMPLES test examples at root/synthetic/1.0.0."""
    import lth_tf  # noqa: F401
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    folder = os.path.join(root, f"synthetic_{num_train}", "synthetic", "1.0.0")
    if os.path.exists(os.path.join(folder, "dataset_info.json")):
        return folder
    os.makedirs(folder, exist_ok=True)
    features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=SHAPE),
                                           "label": tfds.features.ClassLabel(num_classes=10)})
    for split, n in (("train", num_train), ("test", TEST_EXAMPLES)):
        per_shard = -(-n // SHARDS)
        for shard in range(SHARDS):
            start, stop = shard * per_shard, min(n, (shard + 1) * per_shard)
            # Images drawn per shard and PNG-encoded by a parallel tf.data map (eager per-example
            # encoding through tfds' serializer took ~3 ms an example here).
            rng = np.random.default_rng([seed, shard, n])
            images = rng.integers(0, 256, (stop - start,) + SHAPE, dtype=np.uint8)
            encoded = (tf.data.Dataset.from_tensor_slices(images).map(tf.io.encode_png, num_parallel_calls=4)
                       .batch(1000).as_numpy_iterator())
            path = os.path.join(folder, f"synthetic-{split}.tfrecord-{shard:05d}-of-{SHARDS:05d}")
            with tf.io.TFRecordWriter(path) as writer:
                for k, png in enumerate(png for chunk in encoded for png in chunk):
                    example = tf.train.Example(features=tf.train.Features(feature={
                        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
                        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[(start + k) % 10]))}))
                    writer.write(example.SerializeToString())
    tfds.folder_dataset.write_metadata(data_dir=folder, features=features, split_infos=None, check_data=False)
    return folder


def measure(folder: str, batch: int, train_model: bool, memory: bool) -> dict:
    """One epoch over the dataset at `folder` (in this process): peak RSS and examples/s."""
    import lth_tf  # noqa: F401
    import numpy as np
    import tensorflow_datasets as tfds

    from lth_tf.data import DatasetHparams, pipeline
    from lth_tf.data.streaming import streamed_dataset
    from lth_tf.data.tfds_source import TfdsSpec, _to_numpy, tfds_stream_source

    before = _peak_rss_mb()
    builder = tfds.builder_from_directory(folder)
    spec = TfdsSpec("synthetic", 10, "crop_flip")
    hp = DatasetHparams(name="cifar10", val_fraction=0.0, storage="stream")  # name: any tfds entry; unused here
    if memory:
        from lth_tf.data.dataset import Dataset, Split
        data = builder.as_dataset(split="train", shuffle_files=False).map(lambda e: (e["image"], e["label"]))
        x, y = _to_numpy(tfds, data)
        split = Split(x, y.astype(np.int64), np.arange(len(y), dtype=np.int64))
        mean, std = np.full(3, 127.5, np.float32), np.full(3, 73.9, np.float32)  # uniform noise's
        ds = Dataset("synthetic", split, split.take([]), split.take([]), 10, mean, std, "crop_flip")
    else:
        train_source, y_train = tfds_stream_source(builder, "train", spec, 32)
        test_source, y_test = tfds_stream_source(builder, "test", spec, 32)
        ds = streamed_dataset(hp, train_source, y_train, test_source, y_test, 10, "crop_flip")
    setup = _peak_rss_mb()
    n = len(ds.train)
    spe = pipeline.steps_per_epoch(n, batch)
    start = time.perf_counter()
    warmup = 0.0
    if train_model:
        from lth_tf import networks
        from lth_tf.models import ModelHparams
        from lth_tf.training import TrainingHparams, train
        model = networks.build_network(ModelHparams(name="lenet_300_100"), ds.input_shape, 10, 0)
        train(model, ds, TrainingHparams(budget="1ep", batch_size=batch), seed=0, verbose=False)
    else:
        seen = 0
        for x, y, index in pipeline.train_batches(ds, ds.train, batch, 0, 0, spe):
            if not seen:  # the first batch pays for building the pipeline: not counted
                start, warmup, first = time.perf_counter(), time.perf_counter() - start, int(index.shape[0])
            seen += int(index.shape[0])
        assert seen == n, (seen, n)
        n -= first
    seconds = time.perf_counter() - start
    return {"examples": n, "seconds": seconds, "examples_per_s": n / seconds, "warmup_s": warmup, "peak_rss_mb": _peak_rss_mb(),
            "rss_after_imports_mb": before, "rss_after_setup_mb": setup}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--data", default="/tmp/lth_streaming_bench")
    parser.add_argument("--train", action="store_true", help="train a LeNet for the epoch, not just iterate")
    parser.add_argument("--memory", action="store_true", help="also measure the in-memory path")
    parser.add_argument("--repeats", type=int, default=2, help="alternated runs per size; the fastest is kept")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_mode", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:  # one measurement, in a process of its own, so its peak is its own
        print(json.dumps(measure(args._child, args.batch, args.train, args._mode == "memory")))
        return
    folders = {}
    for size in args.sizes:
        start = time.perf_counter()
        folders[size] = write_synthetic(args.data, size)
        print(f"dataset of {size} examples: {folders[size]} ({time.perf_counter() - start:.0f} s)", flush=True)
    results = {}
    for mode in ("stream", "memory") if args.memory else ("stream",):
        for size in [s for _ in range(args.repeats) for s in args.sizes]:  # alternated: a busy spell hits both
            command = [sys.executable, os.path.abspath(__file__), "--_child", folders[size], "--_mode", mode,
                       "--batch", str(args.batch)] + (["--train"] if args.train else [])
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            if (mode, size) not in results or r["examples_per_s"] > results[mode, size]["examples_per_s"]:
                results[mode, size] = r
            print(f"{mode:6s} {size:>8d} examples: peak RSS {r['peak_rss_mb']:7.0f} MB (after imports "
                  f"{r['rss_after_imports_mb']:.0f} MB, after setup {r['rss_after_setup_mb']:.0f} MB), "
                  f"{r['examples_per_s']:8.0f} examples/s ({r['seconds']:.1f} s)", flush=True)
    small, large = min(args.sizes), max(args.sizes)
    for mode in ("stream", "memory") if args.memory else ("stream",):
        a, b = results[mode, small], results[mode, large]
        print(f"{mode}: {large // small}x the examples -> peak RSS x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}, "
              f"throughput per example x{b['examples_per_s'] / a['examples_per_s']:.2f}")


if __name__ == "__main__":
    main()
