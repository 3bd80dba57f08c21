"""Where a dataset's images come from: the given ``root``, else a local copy, else fetched once.

A shipped LFW config (``lfw_small``, ``lfw_min20``, ``lfw``) names a ``local`` copy (``../shared``'s,
beside a checkout) and a ``fetch`` rule. With no ``dataset.root`` and no local copy, deep-funneled
LFW is downloaded on first use into the user's cache, its archive checked against the md5 LFW's
authors publish, and the subset the config asks for is laid out there as hard links (no second copy
of the images), as scikit-learn's ``fetch_lfw_people`` does for its funneled LFW:

* ``small``: the first 30 people by name with at least 4 images, their first 4 images (120 images:
  ``../shared/data/lfw/deepfunneled_small`` exactly);
* ``min20``: every person with at least 20 images (62 people, 3,023 images: ``fetch_lfw_people(
  min_faces_per_person=20)``'s people and ``../shared``'s ``deepfunneled_min20``);
* ``all``: all of LFW (5,749 people, 13,233 images), with View 2's ``pairs.txt`` beside it.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from .. import fetch
from ..errors import ConfigError, FrEvalError

log = logging.getLogger(__name__)

#: deep-funneled LFW, as its authors serve it, and the md5 they publish (the only checksum there is)
ARCHIVE_URLS = ("https://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz",
                "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz")
ARCHIVE_MD5 = "68331da3eb755a505a502b5aacb3c201"
PAIRS_URLS = ("https://vis-www.cs.umass.edu/lfw/pairs.txt", "https://ndownloader.figshare.com/files/5976006")
PAIRS_MD5 = "9f1ba174e4e1c508ff7cdf10ac338a7d"
#: subset -> (at least this many images per person, the first N people by name, the first K images each)
SUBSETS = {"small": (4, 30, 4), "min20": (20, None, None), "all": (1, None, None)}


def resolve_root(s) -> str | None:
    """The dataset's root (``s``: its :class:`~fr_eval.settings.DatasetSettings`): the given one, else
    ``local`` if it exists, else fetched (a one-line :class:`FrEvalError` offline, saying how to point at
    local data)."""
    if s.root or not s.fetch:
        return s.root
    if s.local and Path(s.local).expanduser().is_dir():
        return str(Path(s.local).expanduser())
    rule = dict(s.fetch)
    subset = "all" if getattr(s, "mode", "people") == "pairs" else str(rule.get("subset", "all"))
    if subset not in SUBSETS:
        raise ConfigError(f"dataset.fetch.subset={subset} is not valid: choose from {', '.join(SUBSETS)}")
    try:
        root = lfw_subset(subset, url=rule.get("url"), md5=rule.get("md5"), sha256=rule.get("sha256"),
                          pairs_url=rule.get("pairs_url"))
    except fetch.DownloadFailed as exc:
        where = f" ({s.local} is absent)" if s.local else ""
        raise FrEvalError(f"dataset={s.name}: no local copy{where} and LFW could not be downloaded ({exc.reason}); "
                          f"give dataset.root=<a folder of <Name>/<Name>_NNNN.jpg>, e.g. an unpacked "
                          f"lfw-deepfunneled.tgz") from exc
    return str(root)


def lfw_home() -> Path:
    return Path(fetch.cache_dir("datasets", "lfw"))


def lfw_subset(subset: str, *, url: str | None = None, md5: str | None = None, sha256: str | None = None,
               pairs_url: str | None = None) -> Path:
    """The folder of ``subset`` in the cache, fetching LFW (and, for ``all``, pairs.txt) first if needed."""
    home = lfw_home()
    full = home / "lfw-deepfunneled"
    if not full.is_dir():
        log.info("LFW is not in %s: downloading deep-funneled LFW once (13,233 images, md5-checked)", home)
        _fetch_first(fetch.fetch_archive, [url] if url else ARCHIVE_URLS, full, strip="lfw-deepfunneled",
                     md5=md5 or (None if sha256 else ARCHIVE_MD5), sha256=sha256)
    if subset == "all":
        pairs = home / "pairs.txt"
        if not pairs.is_file():
            _fetch_first(fetch.download, [pairs_url] if pairs_url else PAIRS_URLS, pairs, md5=PAIRS_MD5)
        return full
    out = home / f"deepfunneled_{subset}"
    if not out.is_dir():
        _lay_out(full, out, *SUBSETS[subset])
    return out


def _fetch_first(get, urls, dest: Path, **kw) -> Path:
    """The first of ``urls`` that ``get`` fetches; the last failure if none does."""
    error = None
    for u in urls:
        try:
            return get(u, dest, **kw)
        except fetch.DownloadFailed as exc:
            log.info("%s", exc)
            error = exc
    raise error


def _lay_out(full: Path, out: Path, min_images: int, first_people: int | None, first_images: int | None) -> None:
    """Hard-link the subset's images into ``out`` (copied where links cannot be made), all at once."""
    people = sorted(p for p in full.iterdir() if p.is_dir())
    chosen = [(p, sorted(f for f in p.iterdir() if f.suffix.lower() == ".jpg")) for p in people]
    chosen = [(p, files[:first_images]) for p, files in chosen if len(files) >= min_images][:first_people]
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        for person, files in chosen:
            (work / person.name).mkdir()
            for f in files:
                try:
                    os.link(f, work / person.name / f.name)
                except OSError:
                    shutil.copy2(f, work / person.name / f.name)
        try:
            os.rename(work, out)
        except OSError:
            if not out.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
