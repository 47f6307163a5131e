"""Image folders (Tiny ImageNet and anything laid out like it), decoded into uint8 arrays.

Layout under `DatasetHparams.data_dir`:

    train/<class>/**/*.{JPEG,jpg,jpeg,png,bmp}     classes = sorted names of train/'s subfolders
    and one labelled test split, the first that exists of
    val/images/* + val/val_annotations.txt          (Tiny ImageNet: "file<TAB>class<TAB>...")
    val/<class>/**/*
    test/<class>/**/*

Images are converted to RGB and resized to `image_size` x `image_size`. File order is sorted, so
the stable example indices are the same on every load. A large folder streams (`stream_image_folder`,
lth_tf/data/streaming.py): file paths and labels in memory, images decoded by TensorFlow in each
pass (TensorFlow's JPEG decoder and resize, not PIL's: pixels may differ by rounding).
"""
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from lth_tf.data.dataset import RawData, register, register_stream
from lth_tf.errors import ConfigError

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp")
_LAYOUT = ("expected train/<class>/**/*.JPEG|jpg|jpeg|png and a test split in val/images/ + "
           "val/val_annotations.txt, or val/<class>/..., or test/<class>/...")
_FIX_DIR = "Pass --gin_bindings \"DatasetHparams.data_dir = '/path/to/folder'\""


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def _images_under(folder: Path) -> List[Path]:
    return sorted(p for p in folder.rglob("*") if _is_image(p))


def _subdirs(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _resolve_root(data_dir: str) -> Path:
    root = Path(os.path.expanduser(data_dir))
    # Accept the directory that holds the unpacked Tiny ImageNet archive too.
    if not (root / "train").is_dir() and (root / "tiny-imagenet-200" / "train").is_dir():
        root = root / "tiny-imagenet-200"
    return root


def _train_files(root: Path, name: str) -> Tuple[List[str], List[Path], List[int]]:
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise ConfigError(
            f"Dataset {name!r}: no train/ folder in DatasetHparams.data_dir={str(root)!r} ({_LAYOUT}). "
            f"Point data_dir at the folder that contains train/ (for Tiny ImageNet, the unpacked "
            f"tiny-imagenet-200/ directory).")
    classes = [d.name for d in _subdirs(train_dir)]
    files, labels = [], []
    for label, cls in enumerate(classes):
        found = _images_under(train_dir / cls)
        files += found
        labels += [label] * len(found)
    if not files:
        raise ConfigError(
            f"Dataset {name!r}: no images found under {str(train_dir)!r} ({_LAYOUT}; extensions "
            f"{', '.join(IMAGE_EXTENSIONS)}). Put each class's images in its own subfolder of train/.")
    return classes, files, labels


def _class_folder_split(folder: Path, class_index: Dict[str, int], name: str):
    files, labels = [], []
    for d in _subdirs(folder):
        found = _images_under(d)
        if not found:
            continue
        if d.name not in class_index:
            hint = (f" If {str(d)!r} holds Tiny-ImageNet-style validation images, add their labels as "
                    f"{str(folder / 'val_annotations.txt')!r} ('filename<TAB>class' lines)."
                    if d.name == "images" else "")
            raise ConfigError(
                f"Dataset {name!r}: test folder {str(d)!r} names class {d.name!r}, which has no "
                f"folder in train/. Test classes must be train/ subfolder names; rename or remove it."
                + hint)
        files += found
        labels += [class_index[d.name]] * len(found)
    return files, labels


def _annotated_split(val_dir: Path, class_index: Dict[str, int], name: str):
    annotations = val_dir / "val_annotations.txt"
    files, labels = [], []
    rows = []
    for line_no, line in enumerate(annotations.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise ConfigError(
                f"Dataset {name!r}: line {line_no} of {str(annotations)!r} is {line!r}; each line must "
                f"be 'filename<TAB>class[<TAB>...]'. Fix or remove that line.")
        rows.append((fields[0], fields[1], line_no))
    unknown = sorted({cls for _, cls, _ in rows if cls not in class_index})
    if unknown:
        raise ConfigError(
            f"Dataset {name!r}: {str(annotations)!r} labels images with {len(unknown)} classes that have "
            f"no folder in train/ (e.g. {unknown[:5]}). Use the annotations that came with these "
            f"train/ folders, or add the missing classes to train/.")
    for filename, cls, line_no in sorted(rows):
        path = val_dir / "images" / filename
        if not path.is_file():
            path = val_dir / filename
        if not path.is_file():
            raise ConfigError(
                f"Dataset {name!r}: {str(annotations)!r} line {line_no} names {filename!r}, but neither "
                f"{str(val_dir / 'images' / filename)!r} nor {str(val_dir / filename)!r} exists. "
                f"Restore the image or remove its line.")
        files.append(path)
        labels.append(class_index[cls])
    return files, labels


def _test_files(root: Path, class_index: Dict[str, int], name: str) -> Tuple[List[Path], List[int]]:
    val_dir = root / "val"
    if (val_dir / "val_annotations.txt").is_file():
        files, labels = _annotated_split(val_dir, class_index, name)
        if files:
            return files, labels
    for folder in (val_dir, root / "test"):
        if folder.is_dir():
            files, labels = _class_folder_split(folder, class_index, name)
            if files:
                return files, labels
    raise ConfigError(
        f"Dataset {name!r}: no labelled test images in DatasetHparams.data_dir={str(root)!r} "
        f"({_LAYOUT}). Add one of these test layouts (an unlabelled test/images/ folder is not used).")


def _decode(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise ConfigError(f"Could not decode image {str(path)!r} ({e}). Remove or replace the file.") from e


def decode_images(files: Sequence[Path], size: int) -> np.ndarray:
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    if not files:
        return out

    def work(i):
        out[i] = _decode(files[i], size)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(work, range(len(files))))
    return out


def _checked_root(hp, name: str) -> Path:
    if not hp.data_dir:
        raise ConfigError(
            f"Dataset {name!r} reads images from a folder, but DatasetHparams.data_dir is not set. "
            f"{_FIX_DIR} ({_LAYOUT}).")
    if hp.image_size <= 0:
        raise ConfigError(f"DatasetHparams.image_size={hp.image_size} must be a positive number of pixels, "
                          f"e.g. 64 for Tiny ImageNet.")
    root = _resolve_root(hp.data_dir)
    if not root.is_dir():
        raise ConfigError(f"Dataset {name!r}: DatasetHparams.data_dir={hp.data_dir!r} is not a directory. "
                          f"{_FIX_DIR} with an existing folder ({_LAYOUT}).")
    return root


def load_image_folder(hp, name: str = "image_folder") -> RawData:
    root = _checked_root(hp, name)
    classes, train_files, train_labels = _train_files(root, name)
    class_index = {c: i for i, c in enumerate(classes)}
    test_files, test_labels = _test_files(root, class_index, name)
    return RawData(decode_images(train_files, hp.image_size), np.asarray(train_labels, np.int64),
                   decode_images(test_files, hp.image_size), np.asarray(test_labels, np.int64),
                   num_classes=len(classes), default_augment="crop_flip", class_names=tuple(classes))


def _stream_source(files: Sequence[Path], size: int):
    import tensorflow as tf

    from lth_tf.data.streaming import StreamSource

    paths = np.asarray([str(f) for f in files], dtype=object)

    def records():
        return tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string)).enumerate().map(lambda i, p: (p, i))

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
        return tf.ensure_shape(tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), (size, size, 3))

    return StreamSource(records, decode, len(files), (size, size, 3))


def estimate_bytes(hp, name: str) -> int:
    """Bytes of the decoded train and test images as uint8 arrays (counts the files); 0 when
    the folder is unusable (the in-memory loader then says why)."""
    try:
        root = _checked_root(hp, name)
        classes, train_files, _ = _train_files(root, name)
        test_files, _ = _test_files(root, {c: i for i, c in enumerate(classes)}, name)
    except ConfigError:
        return 0
    return (len(train_files) + len(test_files)) * hp.image_size * hp.image_size * 3


def stream_image_folder(hp, name: str = "image_folder"):
    from lth_tf.data.streaming import streamed_dataset

    root = _checked_root(hp, name)
    classes, train_files, train_labels = _train_files(root, name)
    test_files, test_labels = _test_files(root, {c: i for i, c in enumerate(classes)}, name)
    return streamed_dataset(hp, _stream_source(train_files, hp.image_size), np.asarray(train_labels, np.int64),
                            _stream_source(test_files, hp.image_size), np.asarray(test_labels, np.int64),
                            len(classes), "crop_flip", classes)


@register("image_folder")
def _image_folder(hp) -> RawData:
    return load_image_folder(hp, "image_folder")


@register("tiny_imagenet")
def _tiny_imagenet(hp) -> RawData:
    """Tiny ImageNet 200 (train/<wnid>/images/, val/images/ + val_annotations.txt), 64x64."""
    return load_image_folder(hp, "tiny_imagenet")


for _name in ("image_folder", "tiny_imagenet"):
    register_stream(_name, lambda hp, _name=_name: estimate_bytes(hp, _name),
                    lambda hp, _name=_name: stream_image_folder(hp, _name))
