"""Downloading what fr-eval needs on first use: checksummed, with a progress bar, never half-written.

One downloader for model packs, model weights and datasets. A file is streamed into a temporary
file beside its destination while its digest is computed, checked against the expected checksum,
and only then renamed into place; an archive is unpacked into a temporary folder (members that
would leave it, links and devices are refused) that is renamed into place whole, so two runs
fetching the same thing at once never see each other's partial files. Every failure is a
:class:`DownloadFailed` with one line saying what could not be fetched and why.

Set ``FR_EVAL_OFFLINE=1`` to never try the network (as ``HF_HUB_OFFLINE`` does for Hugging Face).
Written here rather than with a library: the stdlib has every piece, and pooch or
``sklearn.datasets`` would add a dependency or not check an md5 published for an archive.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from .errors import FrEvalError

log = logging.getLogger(__name__)
CHUNK = 1 << 20


class DownloadFailed(FrEvalError):
    """Something could not be downloaded (offline, HTTP error, checksum mismatch, bad archive);
    ``reason`` is the why alone, in a few words."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def cache_dir(*parts: str) -> str:
    """fr-eval's folder in the user's cache: ``$XDG_CACHE_HOME/fr-eval`` (the XDG base-directory
    rule: used only when set to an absolute path), else ``~/.cache/fr-eval``. The store, fetched
    datasets and DeOldify's weights live under it."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return str(root.joinpath("fr-eval", *parts))


def offline() -> bool:
    return os.environ.get("FR_EVAL_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return f"offline or unreachable: {getattr(reason, 'strerror', None) or reason}"
    return " ".join(str(exc).split()) or type(exc).__name__


def download(url: str, dest: str | Path, *, sha256: str | None = None, md5: str | None = None,
             desc: str | None = None, progress: bool = True, timeout: float = 30) -> Path:
    """Fetch ``url`` into ``dest``; the file appears only once its checksum matches.

    ``sha256`` (preferred) or ``md5`` (where only an md5 is published, as for LFW's archives) is
    checked when given; without either the download is logged as unverified with its sha256.
    """
    if offline():
        raise DownloadFailed(f"{url}: not downloaded (FR_EVAL_OFFLINE is set)", "FR_EVAL_OFFLINE is set")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
            _stream(r, out, digests, desc or dest.name, progress)
        got = {k: h.hexdigest() for k, h in digests.items()}
        for kind, want in (("sha256", sha256), ("md5", md5)):
            if want and got[kind] != want.lower():
                raise DownloadFailed(f"{url}: {kind} {got[kind]} does not match the expected {want.lower()} "
                                     f"(a damaged or changed file; nothing was kept)", f"{kind} mismatch")
        if not (sha256 or md5):
            log.warning("downloaded %s unverified (no checksum configured): sha256 %s", dest.name, got["sha256"])
        os.replace(tmp, dest)
        return dest
    except DownloadFailed:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DownloadFailed(f"could not download {url} ({_reason(exc)})", _reason(exc)) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _stream(response, out, digests: dict, desc: str, progress: bool) -> None:

    total = int(response.headers.get("Content-Length") or 0) or None
    # disable=None: tqdm's own rule, no bar when stderr is not a terminal (logs, CI, tests)
    with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=None if progress else True,
              leave=False) as bar:
        for chunk in iter(lambda: response.read(CHUNK), b""):
            out.write(chunk)
            for h in digests.values():
                h.update(chunk)
            bar.update(len(chunk))


def unpack(archive: str | Path, dest: str | Path, *, strip: str | None = None) -> Path:
    """Unpack a .zip or .tar(.gz) into ``dest`` (absent beforehand), all or nothing.

    ``strip``: a top-level folder of that name is unwrapped (insightface's antelopev2.zip holds
    ``antelopev2/``; buffalo_l.zip holds its files at the top).
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".unpack"))
    try:
        _extract(archive, work)
        inner = work / strip if strip else None
        root = inner if inner is not None and inner.is_dir() and len(list(work.iterdir())) == 1 else work
        try:
            os.rename(root, dest)
        except OSError:
            if not dest.is_dir():  # not "another run unpacked it first"
                raise
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _extract(archive: Path, into: Path) -> None:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for name in z.namelist():
                    _check_member(archive, name)
                z.extractall(into)
            return
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                _check_member(archive, m.name)
                if not (m.isfile() or m.isdir()):
                    raise DownloadFailed(f"{archive.name}: member {m.name} is a link or device (refused)")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: the safe extraction filter
                t.extractall(into, filter="data")
            else:
                t.extractall(into)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DownloadFailed(f"{archive.name} is not a readable archive ({_reason(exc)}); it was removed, run "
                             f"again to download it anew", "not a readable archive") from exc


def _check_member(archive: Path, name: str) -> None:
    p = Path(name)
    if p.is_absolute() or ".." in p.parts:
        raise DownloadFailed(f"{archive.name}: member {name} would be written outside its folder (refused)")


def fetch_archive(url: str, dest: str | Path, *, sha256: str | None = None, md5: str | None = None,
                  strip: str | None = None, progress: bool = True) -> Path:
    """``dest`` unpacked from the archive at ``url`` (downloaded beside it, checked, then removed)."""
    dest = Path(dest)
    if dest.is_dir():
        return dest
    name = Path(urllib.parse.urlparse(url).path).name or "archive"
    archive = download(url, dest.parent / f".{dest.name}.{name}", sha256=sha256, md5=md5, desc=name,
                       progress=progress)
    try:
        return unpack(archive, dest, strip=strip)
    finally:
        archive.unlink(missing_ok=True)
