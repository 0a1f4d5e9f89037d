"""MovieLens-100K from the `recbole==1.2.1` wheel on PyPI, cached outside the repository.

No MovieLens file is committed (licence). The embedded default is the copy RecBole ships
as an example in its wheel: three RecBole atomic files (`ml-100k.inter`, `.user`,
`.item`, see `recall_models.data.movielens`). `ensure_ml100k()`

1. returns at once if the cache already holds the three files with the expected SHA-256;
2. otherwise runs `python -m pip download recbole==1.2.1 --no-deps --only-binary=:all:`
   into a temporary folder (the wheel is only read as a zip file: recbole and its
   dependencies, torch among them, are never installed), extracts just the files under
   `recbole/dataset_example/ml-100k/` that we use, checks their SHA-256 and moves them
   into the cache atomically.

Cache directory: `$RECALL_MODELS_DATA` if set, else `~/.cache/recall_models`; the files
land in `<cache>/ml-100k/`.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

RECBOLE_REQUIREMENT = "recbole==1.2.1"
WHEEL_PREFIX = "recbole/dataset_example/ml-100k/"
ML100K_DIRNAME = "ml-100k"

# SHA-256 of each file as shipped in recbole-1.2.1-py3-none-any.whl (a checksum, computed
# once from the wheel: 100,000 ratings, 943 users, 1,682 items).
ML100K_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}


class ChecksumError(RuntimeError):
    """A cached or downloaded file whose SHA-256 is not the expected one."""


def cache_dir() -> Path:
    """`$RECALL_MODELS_DATA` if set, else `~/.cache/recall_models` (not created here)."""
    env = os.environ.get("RECALL_MODELS_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "recall_models"


def ml100k_dir() -> Path:
    """Where the embedded MovieLens-100K lives: `<cache>/ml-100k`."""
    return cache_dir() / ML100K_DIRNAME


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory) -> dict[str, str]:
    """Checks the three cached files; returns {name: problem} (empty when all are good)."""
    problems = {}
    for name, expected in ML100K_SHA256.items():
        path = Path(directory) / name
        if not path.exists():
            problems[name] = "missing"
        elif sha256_file(path) != expected:
            problems[name] = "SHA-256 mismatch"
    return problems


def download_wheel(dest) -> Path:
    """Downloads the recbole wheel (no dependencies, nothing installed) into `dest`."""
    cmd = [sys.executable, "-m", "pip", "download", RECBOLE_REQUIREMENT, "--no-deps",
           "--only-binary=:all:", "--disable-pip-version-check", "--quiet", "-d", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(dest).glob("recbole-*.whl"))
    if done.returncode != 0 or not wheels:
        raise RuntimeError(
            f"could not download {RECBOLE_REQUIREMENT} from PyPI ({' '.join(cmd)} exited "
            f"with {done.returncode}): {done.stderr.strip()[-500:]}\n"
            f"Without network access, place {', '.join(ML100K_SHA256)} in {ml100k_dir()}.")
    return wheels[0]


def extract(wheel, directory) -> None:
    """Extracts the ML-100K atomic files from `wheel`, checking each SHA-256 first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name, expected in ML100K_SHA256.items():
            data = zf.read(WHEEL_PREFIX + name)
            got = hashlib.sha256(data).hexdigest()
            if got != expected:
                raise ChecksumError(f"{WHEEL_PREFIX}{name} in {Path(wheel).name} has SHA-256 "
                                    f"{got}, expected {expected}")
            # Write beside the target, then rename: a reader never sees half a file.
            tmp = directory / f".{name}.part"
            tmp.write_bytes(data)
            os.replace(tmp, directory / name)


def ensure_ml100k(force: bool = False, log=None) -> Path:
    """Makes sure the cache holds the checked ML-100K files; returns their directory.

    Args:
        force: download and extract again even if the cache is good.
        log: optional callable taking one line of progress text.

    Raises:
        RuntimeError: the download failed (no network, PyPI refused).
        ChecksumError: a downloaded file has the wrong SHA-256.
    """
    directory = ml100k_dir()
    if not force and not verify(directory):
        return directory
    if log:
        log(f"downloading {RECBOLE_REQUIREMENT} (wheel only, not installed) from PyPI")
    with tempfile.TemporaryDirectory(prefix="recall_models_fetch_") as tmp:
        wheel = download_wheel(tmp)
        if log:
            log(f"extracting {', '.join(ML100K_SHA256)} into {directory}")
        extract(wheel, directory)
    problems = verify(directory)
    if problems:
        raise ChecksumError(f"after extraction {directory} still has problems: {problems}")
    return directory
