"""Small, dependency-light dataset loaders returning NumPy arrays.

MNIST / Fashion-MNIST
---------------------
``mnist()`` and ``fashion_mnist()`` read the four standard IDX files::

    train-images-idx3-ubyte  train-labels-idx1-ubyte
    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

each either gzip-compressed (``.gz``) or raw; compression is detected from the
file's content, not its name. ``images`` come back as ``uint8`` N x 28 x 28 and
``labels`` as ``uint8`` N, exactly as stored (see ``load_mnist`` for the
tutorial-style float/int64 variant).

The folder holding the files is looked up in this order; the first folder that
holds both files of the requested split wins:

1. ``root`` (the folder itself, then ``root/<name>``), when given;
2. ``$TINYGRAD_LITE_DATA/<name>``;
3. ``$XDG_CACHE_HOME/tinygrad_lite/<name>`` (default ``~/.cache/tinygrad_lite/<name>``);
4. ``/usr/share/datasets/<name>`` (Debian: ``apt-get install -y dataset-fashion-mnist``);
5. with ``download=True``: the files are downloaded into the cache folder of (3)
   from the mirrors in ``MNIST_MIRRORS`` / ``FASHION_MNIST_MIRRORS``.

``<name>`` is ``mnist`` or ``fashion-mnist``.

Integrity
~~~~~~~~~
Every file read is structurally validated (magic number, dimensions, exact
length, gzip CRC, label range, image count == label count); anything wrong
raises :class:`DatasetError` naming the file. With ``verify=True`` (the
default) the SHA-256 of the *decompressed* content is also checked against the
known value for the official files (this costs ~0.15 s for the full training
set, on top of the ~0.3 s decompression that reading needs anyway). Pass
``verify=False`` to load other IDX files stored under the standard names (e.g.
a subset). Memory is bounded by what a file may hold: the header's dimensions
are checked (N x 28 x 28 images / N labels, N at most the official count with
``verify=True`` and at most ``MAX_UNVERIFIED_EXAMPLES`` without) before anything
is allocated, and gzip data is inflated incrementally, never past what the
header allows, so a gzip bomb or a header claiming gigabytes is refused without
the memory. Downloads are always verified before they are moved (atomically)
into place; a failed download leaves nothing behind.

Other data sets
---------------
``iris()`` reads the 150-row Iris table shipped with this package
(``tinygrad_lite/data_files/iris.csv``: offline, no other package needed).
``digits()`` returns scikit-learn's bundled 8x8 digits (offline); scikit-learn
is imported lazily and only needed for it.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetError",
    "MissingDependencyError",
    "mnist",
    "fashion_mnist",
    "load_mnist",
    "read_idx",
    "locate",
    "normalize",
    "flatten",
    "one_hot",
    "digits",
    "iris",
    "MNIST_MIRRORS",
    "FASHION_MNIST_MIRRORS",
]

logger = logging.getLogger(__name__)


class DatasetError(RuntimeError):
    """A data set could not be found, downloaded, or read correctly."""


class MissingDependencyError(DatasetError, ImportError):
    """An optional package needed for a data set is not installed."""


# --------------------------------------------------------------------------- #
# Configuration (module level so that tests and users can override it)
# --------------------------------------------------------------------------- #

ENV_VAR = "TINYGRAD_LITE_DATA"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
DOWNLOAD_TIMEOUT = 30.0  # seconds, per request
MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024  # refuse anything absurdly large

MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
FASHION_MNIST_MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
]

# urllib's urlopen, looked up at call time so tests can monkeypatch it.
_urlopen = urllib.request.urlopen

_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# SHA-256 of the *decompressed* IDX content (independent of gzip level/header).
# MNIST: as published with the project's data folder. Fashion-MNIST: computed
# from Debian's dataset-fashion-mnist package, whose .gz files carry the same
# deflate streams as upstream's (re-adding upstream's gzip header reproduces the
# MD5 published in Fashion-MNIST's README for all four files).
_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

# MD5 of the .gz files as published upstream (for reference; downloads are
# checked with the SHA-256 above, which does not depend on the gzip header).
PUBLISHED_GZ_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

_IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dims
_LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dim
_MAX_IDX_BYTES = 1 << 34  # sanity bound on what a header may claim
_DEFLATE_MAX_RATIO = 1032  # deflate expands at most ~1032:1, so a header claiming more lies
_READ_CHUNK = 1 << 22
#: With ``verify=False`` a file may hold at most this many examples (784 MB of images).
MAX_UNVERIFIED_EXAMPLES = 1_000_000


# --------------------------------------------------------------------------- #
# IDX reading
# --------------------------------------------------------------------------- #


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_exact(f, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DatasetError(
            f"{path}: truncated file: expected {n} bytes of {what}, got {len(data)}"
        )
    return data


def read_idx(path, expected_magic=None, sha256=None, expected_dims=None,
             max_bytes=_MAX_IDX_BYTES) -> np.ndarray:
    """Read one uint8 IDX file (gzip or raw) into a writable NumPy array.

    ``expected_magic`` (e.g. 2051 for images, 2049 for labels), ``expected_dims``
    (a tuple with an int or ``None`` (any) per dimension, e.g. ``(None, 28, 28)``)
    and ``sha256`` (hex digest of the decompressed content) are checked when
    given. The header's dimensions are checked (against ``expected_dims``,
    ``max_bytes``, the file's size, and for gzip the most deflate can expand it)
    before anything is allocated, and the data is decompressed incrementally,
    never more than the header allows; so memory is bounded by what the file
    may hold. Raises :class:`DatasetError` naming ``path`` on any problem.
    """
    path = Path(path)
    try:
        gz = _is_gzip(path)
        opener = gzip.open if gz else open
        h = hashlib.sha256() if sha256 else None
        with opener(path, "rb") as f:
            head = _read_exact(f, 4, path, "IDX header")
            magic = int.from_bytes(head, "big")
            if head[0] != 0 or head[1] != 0 or head[2] != 0x08 or head[3] == 0:
                raise DatasetError(
                    f"{path}: bad magic number {magic} (0x{magic:08x}): not a uint8 IDX file"
                    + (f" (expected {expected_magic})" if expected_magic else "")
                )
            if expected_magic is not None and magic != expected_magic:
                raise DatasetError(
                    f"{path}: bad magic number {magic}, expected {expected_magic} "
                    f"({'images' if expected_magic == _IMAGES_MAGIC else 'labels'} file)"
                )
            ndim = head[3]
            dim_bytes = _read_exact(f, 4 * ndim, path, "IDX dimensions")
            dims = tuple(
                int.from_bytes(dim_bytes[4 * i : 4 * i + 4], "big") for i in range(ndim)
            )
            if expected_dims is not None and (
                len(dims) != len(expected_dims)
                or any(e is not None and d != e for d, e in zip(dims, expected_dims))
            ):
                want = " x ".join("N" if e is None else str(e) for e in expected_dims)
                raise DatasetError(f"{path}: header claims dimensions {dims}, expected {want}")
            size = math.prod(dims)
            if size > max_bytes:
                raise DatasetError(
                    f"{path}: header claims dimensions {dims} ({size} bytes), more than the "
                    f"{max_bytes} bytes this dataset may hold"
                )
            header_len = 4 + 4 * ndim
            on_disk = os.path.getsize(path)
            if gz and size > _DEFLATE_MAX_RATIO * on_disk:
                raise DatasetError(
                    f"{path}: header claims dimensions {dims} ({size} bytes), more than a "
                    f"{on_disk}-byte gzip file can hold (truncated or crafted file)"
                )
            if not gz and on_disk - header_len != size:
                actual = on_disk - header_len
                kind = "truncated file" if actual < size else "trailing data"
                raise DatasetError(
                    f"{path}: {kind}: dimensions {dims} need {size} data bytes, "
                    f"file has {actual}"
                )
            if h is not None:
                h.update(head)
                h.update(dim_bytes)
            # grow with the data actually read (a header may lie about a gzip stream)
            buf = bytearray()
            while len(buf) < size:
                chunk = f.read(min(size - len(buf), _READ_CHUNK))
                if not chunk:
                    break
                buf += chunk
            if len(buf) != size:
                raise DatasetError(
                    f"{path}: truncated file: dimensions {dims} need {size} data bytes, "
                    f"got only {len(buf)}"
                )
            if f.read(1):  # also makes gzip check the CRC and length trailer
                raise DatasetError(
                    f"{path}: trailing data after the {size} bytes that dimensions {dims} need"
                )
            if h is not None:
                h.update(buf)
            out = np.frombuffer(buf, dtype=np.uint8)  # writable: a bytearray's buffer
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except MemoryError:
        raise DatasetError(f"{path}: out of memory while reading the file") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: corrupt or unreadable file ({type(e).__name__}: {e})") from e
    if h is not None and h.hexdigest() != sha256:
        raise DatasetError(
            f"{path}: SHA-256 of decompressed content is {h.hexdigest()}, expected {sha256} "
            "(file corrupt or not the official one; delete it to re-download, "
            "or pass verify=False for custom data)"
        )
    return out.reshape(dims)


def _expected_dims(fname: str, verify: bool):
    """(dims, max_bytes) a file of the standard names may have: N x 28 x 28 images or N
    labels, N at most the official count when verifying (the SHA-256 then checks the
    content), else at most ``MAX_UNVERIFIED_EXAMPLES``."""
    n = (60000 if fname.startswith("train") else 10000) if verify else MAX_UNVERIFIED_EXAMPLES
    if "images" in fname:
        return (None, 28, 28), n * 28 * 28
    return (None,), n


# --------------------------------------------------------------------------- #
# Locating / downloading
# --------------------------------------------------------------------------- #


def _canonical_name(name: str) -> str:
    n = name.lower().replace("_", "-")
    if n in ("mnist", "fashion-mnist"):
        return n
    raise ValueError(f"unknown data set {name!r}; expected 'mnist' or 'fashion-mnist'")


def cache_dir(name: str) -> Path:
    """The download folder for ``name``: ``$XDG_CACHE_HOME/tinygrad_lite/<name>``
    (default ``~/.cache/tinygrad_lite/<name>``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tinygrad_lite" / name


def _candidate_dirs(name: str, root):
    dirs = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [("root argument", root), ("root argument", root / name)]
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append((f"${ENV_VAR}", Path(env).expanduser() / name))
    dirs.append(("cache", cache_dir(name)))
    dirs.append(("system", SYSTEM_DATA_DIR / name))
    return dirs


def _find_file(folder: Path, fname: str):
    """The file for ``fname`` in ``folder`` (raw or .gz; also the
    ``train-images.idx3-ubyte`` spelling some copies use), or None."""
    alt = fname.replace("-idx", ".idx")
    for n in (fname, fname + ".gz", alt, alt + ".gz"):
        p = folder / n
        if p.is_file():
            return p
    return None


def _search(searched, fnames):
    """The files ``fnames`` from the first folder of ``searched`` that holds them all, or None."""
    for _why, folder in searched:
        found = [_find_file(folder, f) for f in fnames]
        if all(found):
            return found
    return None


def locate(name: str = "mnist", root=None, train=None):
    """The folder :func:`mnist` / :func:`fashion_mnist` would read, or None; never downloads.

    The same search as loading (``root``, ``$TINYGRAD_LITE_DATA/<name>``, the cache,
    ``/usr/share/datasets/<name>``; see the module docstring). ``train=None`` asks for
    a folder holding both splits (all four files), ``True``/``False`` for one split.
    The files are found, not read: a corrupt file is reported when it is loaded.
    """
    name = _canonical_name(name)
    fnames = _FILES[True] + _FILES[False] if train is None else _FILES[bool(train)]
    found = _search(_candidate_dirs(name, root), fnames)
    return None if found is None else found[0].parent


def _download(name: str, fname: str, folder: Path, mirrors, errors: list):
    """Download ``fname`` into ``folder`` from the first mirror that serves a
    verified copy. Returns the path or None (errors appended to ``errors``)."""
    expected = _SHA256[name][fname]
    magic = _IMAGES_MAGIC if "images" in fname else _LABELS_MAGIC
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        errors.append(f"cannot create {folder}: {e}")
        return None
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + fname + ".gz"
        fd, tmp = tempfile.mkstemp(prefix=f".{fname}.", suffix=".part", dir=folder)
        try:
            logger.info("downloading %s", url)
            total = 0
            with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > MAX_DOWNLOAD_BYTES:
                        raise DatasetError(f"{url}: response larger than {MAX_DOWNLOAD_BYTES} bytes")
                    out.write(chunk)
            dims, limit = _expected_dims(fname, True)
            read_idx(tmp, expected_magic=magic, sha256=expected, expected_dims=dims, max_bytes=limit)
            final = folder / (fname + ".gz" if _is_gzip(Path(tmp)) else fname)
            os.replace(tmp, final)
            logger.info("saved %s", final)
            return final
        except Exception as e:  # noqa: BLE001 - every failure is reported below
            errors.append(f"{url}: {type(e).__name__}: {e}")
            logger.info("download failed: %s: %s", url, e)
        finally:
            if os.path.exists(tmp):
                try:
                    os.remove(tmp)
                except OSError:
                    pass
    return None


def _not_found_message(name, fnames, searched, errors, download):
    cache = cache_dir(name)
    mirrors = MNIST_MIRRORS if name == "mnist" else FASHION_MNIST_MIRRORS
    lines = [f"could not find the {name} files {', '.join(f + '[.gz]' for f in fnames)}."]
    lines.append("Folders searched (in order):")
    lines += [f"  - {p} ({why})" for why, p in searched]
    if not os.environ.get(ENV_VAR):
        lines.append(f"  (${ENV_VAR} is not set; set it to a folder that contains '{name}/')")
    if download:
        lines.append("Downloads tried:")
        lines += [f"  - {e}" for e in errors] or ["  - (none)"]
    else:
        lines.append("Download disabled (download=False).")
    lines.append("To fix, do one of:")
    lines.append(
        f"  - download the four files {', '.join(f + '.gz' for t in (True, False) for f in _FILES[t])} "
        f"from {' or '.join(mirrors)} into {cache}"
    )
    lines.append(f"  - pass root=<folder with the files>, or set {ENV_VAR}=<folder containing {name}/>")
    if name == "fashion-mnist":
        lines.append(
            f"  - on Debian/Ubuntu: apt-get install -y dataset-fashion-mnist "
            f"(installs them into {SYSTEM_DATA_DIR / name})"
        )
    return "\n".join(lines)


def _load(name: str, root, train: bool, download: bool, verify: bool):
    name = _canonical_name(name)
    fnames = _FILES[bool(train)]
    searched = _candidate_dirs(name, root)
    paths = _search(searched, fnames)
    if paths is None and download:
        folder = cache_dir(name)
        mirrors = MNIST_MIRRORS if name == "mnist" else FASHION_MNIST_MIRRORS
        errors: list = []
        paths = []
        for f in fnames:
            p = _find_file(folder, f) or _download(name, f, folder, mirrors, errors)
            if p is None:
                paths = None
                break
            paths.append(p)
        if paths is None:
            raise DatasetError(_not_found_message(name, fnames, searched, errors, download))
    elif paths is None:
        raise DatasetError(_not_found_message(name, fnames, searched, [], download))

    img_path, lbl_path = paths
    sums = _SHA256[name] if verify else {}
    try:
        images = read_idx(img_path, _IMAGES_MAGIC, sums.get(fnames[0]),
                          *_expected_dims(fnames[0], verify))
        labels = read_idx(lbl_path, _LABELS_MAGIC, sums.get(fnames[1]),
                          *_expected_dims(fnames[1], verify))
    except DatasetError as e:
        if verify and "header claims" in str(e):
            raise DatasetError(f"{e} (not the official file; pass verify=False for custom "
                               f"data, up to {MAX_UNVERIFIED_EXAMPLES} examples)") from None
        raise
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{img_path}: images are {images.shape[1:]}, expected 28x28")
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"count mismatch: {img_path} has {images.shape[0]} images but "
            f"{lbl_path} has {labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{lbl_path}: label value {int(labels.max())} out of range 0..9")
    return images, labels


def mnist(root=None, train=True, download=True, verify=True):
    """MNIST digits: ``(images uint8 N x 28 x 28, labels uint8 N)``.

    ``train=True`` gives the 60,000 training examples, ``False`` the 10,000
    test examples. See the module docstring for where files are looked up and
    what ``verify`` checks.
    """
    return _load("mnist", root, train, download, verify)


def fashion_mnist(root=None, train=True, download=True, verify=True):
    """Fashion-MNIST: ``(images uint8 N x 28 x 28, labels uint8 N)``; as :func:`mnist`."""
    return _load("fashion-mnist", root, train, download, verify)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def normalize(images) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] (divided by 255)."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def flatten(images) -> np.ndarray:
    """N x H x W (or N x C x H x W) -> N x (H*W...), e.g. N x 784 for MNIST."""
    images = np.asarray(images)
    return images.reshape(images.shape[0], -1)


def one_hot(labels, num_classes=10, dtype=np.float32) -> np.ndarray:
    """Integer labels (N,) -> one-hot (N, num_classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot expects a 1-D array of labels, got shape {labels.shape}")
    idx = labels.astype(np.int64)
    if labels.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {idx.min()}..{idx.max()}")
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), idx] = 1
    return out


_normalize = normalize
_flatten = flatten


def load_mnist(normalize=True, flatten=True, one_hot_label=False, root=None, name="mnist",
               download=True, verify=True):
    """Tutorial-style loader ("Deep Learning from Scratch"):
    ``(x_train, t_train), (x_test, t_test)``.

    ``normalize``: images float32 in [0, 1] (else uint8). ``flatten``: images
    N x 784 (else N x 1 x 28 x 28, as in the tutorial). ``one_hot_label``:
    labels float32 N x 10 (else int64 N). ``name``: ``"mnist"`` or
    ``"fashion-mnist"``.
    """
    name = _canonical_name(name)
    out = []
    for train in (True, False):
        x, t = _load(name, root, train, download, verify)
        x = _normalize(x) if normalize else x
        x = _flatten(x) if flatten else x.reshape(x.shape[0], 1, 28, 28)
        t = one_hot(t, 10) if one_hot_label else t.astype(np.int64)
        out.append((x, t))
    return tuple(out)


# --------------------------------------------------------------------------- #
# Iris (shipped) and scikit-learn's digits
# --------------------------------------------------------------------------- #


def _sklearn_datasets(what):
    try:
        import sklearn.datasets as skd
    except ImportError as e:
        raise MissingDependencyError(
            f"{what}() needs scikit-learn, which is not installed: pip install scikit-learn"
        ) from e
    return skd


def digits():
    """scikit-learn's 8x8 digits (1,797 samples, offline):
    ``(images float32 N x 64 in [0, 1], labels int64 N)``."""
    d = _sklearn_datasets("digits").load_digits()
    return (np.asarray(d.data, dtype=np.float32) / np.float32(16.0),
            np.asarray(d.target, dtype=np.int64))


def iris():
    """Fisher's Iris (150 samples, 50 a species; offline, shipped with the package):
    ``(features float32 N x 4, labels int64 N)``. Features: sepal length, sepal width,
    petal length, petal width (cm); labels 0 setosa, 1 versicolor, 2 virginica; in
    scikit-learn's order and with its values (``load_iris``)."""
    from importlib import resources
    try:
        text = (resources.files("tinygrad_lite") / "data_files" / "iris.csv").read_text()
    except (OSError, AttributeError) as e:       # AttributeError: a resources API without files()
        raise DatasetError(f"the Iris table shipped with tinygrad_lite is missing or unreadable "
                           f"(tinygrad_lite/data_files/iris.csv: {e}); reinstall the package") from e
    table = np.loadtxt(text.splitlines(), delimiter=",", comments="#", dtype=np.float64, ndmin=2)
    if table.shape != (150, 5):
        raise DatasetError(f"tinygrad_lite/data_files/iris.csv: expected 150 rows of 5 columns, got {table.shape}")
    return table[:, :4].astype(np.float32), table[:, 4].astype(np.int64)
