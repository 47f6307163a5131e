"""Stored arrays: bit-packed 0/1 arrays (masks) come back identical, older plain npz files
still load, damaged or malformed files name themselves, and packing makes masks smaller."""
import zipfile

import numpy as np
import pytest

from lth_tf.io import PACKED, UnreadableFile, atomic_path, load_npz, save_npz, unit_is_complete
from lth_tf.sparsity import masks as M


def _mask(shape, density, seed):
    return (np.random.default_rng(seed).random(shape) < density).astype(np.float32)


def _identical(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
                                    and a[k].tobytes() == b[k].tobytes() for k in a)


def test_packed_arrays_round_trip_bit_for_bit(tmp_path):
    arrays = {"fc1": _mask((40, 30), 0.2, 0), "odd": _mask((7, 3, 5), 0.5, 1),  # 105 bits: not a multiple of 8
              "ones": np.ones(13, np.float32), "flags": np.array([True, False, True]),
              "counts": np.array([0, 1, 1, 0], np.int64), "scalar": np.float32(1.0) * np.ones(()),
              "minus_zero": np.array([0.0, -0.0, 1.0], np.float32),  # not packed: the sign would be lost
              "weights": np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32),
              "empty": np.zeros((0, 3), np.float32), "names": np.array(["a", "b"])}
    save_npz(tmp_path / "a.npz", arrays, pack_bits=True)
    back = load_npz(tmp_path / "a.npz")
    assert _identical(back, arrays)
    with np.load(tmp_path / "a.npz") as raw:  # what was packed: the 0/1 arrays only
        assert raw["fc1"].dtype == np.uint8 and raw["fc1"].size == 40 * 30 // 8
        assert raw["minus_zero"].dtype == np.float32 and raw["weights"].dtype == np.float32
    save_npz(tmp_path / "plain.npz", arrays)  # without pack_bits: a plain npz
    with np.load(tmp_path / "plain.npz") as raw:
        assert PACKED not in raw.files and _identical({k: raw[k] for k in raw.files}, arrays)


def test_masks_are_stored_packed_and_older_masks_still_load(tmp_path):
    masks = {"fc1": _mask((40, 300), 0.11, 3), "fc2": _mask((300, 100), 0.11, 4), "output": _mask((100, 10), 0.5, 5)}
    M.save_masks(tmp_path / "new.npz", masks)
    with open(tmp_path / "old.npz", "wb") as f:  # how mask.npz was stored before: float32 arrays
        np.savez_compressed(f, **masks)
    for name in ("new.npz", "old.npz"):
        assert _identical(M.load_masks(tmp_path / name), masks)
    new, old = ((tmp_path / n).stat().st_size for n in ("new.npz", "old.npz"))
    assert new < 0.75 * old, (new, old)  # bits deflate better than float32 0/1 values
    with pytest.raises(ValueError, match="other than 0 and 1"):
        M.save_masks(tmp_path / "bad.npz", {"fc1": np.full((2, 2), 0.5, np.float32)})


def test_a_packed_unit_is_checksummed_and_damage_names_the_file(tmp_path):
    unit = tmp_path / "artifacts" / "MaskSearch" / "x-seed0-12345678" / "level_01"
    with atomic_path(unit, is_dir=True) as tmp:
        M.save_masks(tmp / "mask.npz", {"fc1": _mask((40, 30), 0.2, 6)})
    assert unit_is_complete(unit, hashes=True)
    data = (unit / "mask.npz").read_bytes()
    (unit / "mask.npz").write_bytes(data[: len(data) // 2])
    assert not unit_is_complete(unit)
    with pytest.raises(UnreadableFile, match="mask.npz"):
        M.load_masks(unit / "mask.npz")
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as z:  # a packing note that lists a missing array
        with z.open(PACKED + ".npy", "w") as f:
            np.lib.format.write_array(f, np.array('{"fc9": ["<f4", [2, 2]]}'))
    with pytest.raises(UnreadableFile, match="odd.npz"):
        load_npz(tmp_path / "odd.npz")
