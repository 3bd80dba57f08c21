"""The parsers of configuration values: each takes the key and the value and returns the value in its
type, or raises a :class:`~fr_eval.errors.ConfigError` whose one line names the key, the value and
what is accepted. :mod:`fr_eval.settings` names the parser of every key.
"""
from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

from .errors import ConfigError


def _bad(key: str, value, what: str):
    shown = "" if value is None else value
    return ConfigError(f"{key}={shown} is not valid: {what}")


def fraction(key, value) -> float:
    """A number strictly between 0 and 1 (a rate as a fraction, not a percent)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _bad(key, value, "give a fraction between 0 and 1 (0.001 means 0.1%)") from None
    if not 0 < x < 1 or not math.isfinite(x):
        raise _bad(key, value, "give a fraction between 0 and 1 (0.001 means 0.1%)")
    return x


def integer(key, value, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise _bad(key, value, "give an integer")
    try:
        x = float(value)
        if not x.is_integer():
            raise ValueError
        x = int(x)
    except (TypeError, ValueError, OverflowError):
        raise _bad(key, value, "give an integer" + (f" >= {minimum}" if minimum is not None else "")) from None
    if minimum is not None and x < minimum:
        raise _bad(key, value, f"give an integer >= {minimum}")
    return x


def number(key, value, lo: float | None = None, hi: float | None = None) -> float:
    rng = f" between {lo:g} and {hi:g}" if lo is not None and hi is not None else (
        f" >= {lo:g}" if lo is not None else "")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _bad(key, value, f"give a number{rng}") from None
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise _bad(key, value, f"give a number{rng}")
    return x


def choice(key, value, options) -> str:
    if str(value) not in options:
        raise _bad(key, value, f"choose from {', '.join(options)}")
    return str(value)


def boolean(key, value) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise _bad(key, value, "give true or false")


def names(key, value) -> list[str]:
    """One name or a list of names, always as a list (``colouriser=exemplar`` is ``[exemplar]``)."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items or any(x is None or isinstance(x, (dict, list, tuple)) or not str(x).strip() for x in items):
        raise _bad(key, value, "give a name or a list of names, e.g. [exemplar,deoldify-stable]")
    return [str(x).strip() for x in items]


def workers(key, value):
    if value in (None, "auto"):
        return "auto"
    try:
        return integer(key, value, 1)
    except ConfigError:
        raise _bad(key, value, "give auto or a positive integer") from None


def impostors(key, value):
    if value == "all":
        return "all"
    try:
        return integer(key, value, 1)
    except ConfigError:
        raise _bad(key, value, "give all (every cross-subject pair) or a positive integer N (a seeded sample)") \
            from None


_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def byte_size(key, value) -> int:
    """A memory size: bytes, or a number with KB, MB, GB or TB (powers of 1024), e.g. 1GB, 512MB."""
    text = str(value).strip().upper().replace(" ", "")
    if text.endswith("IB"):
        text = text[:-2] + "B"
    unit = next((u for u in ("KB", "MB", "GB", "TB", "B") if text.endswith(u)), "")
    try:
        x = float(text[:len(text) - len(unit)]) * _UNITS[unit]
    except ValueError:
        x = float("nan")
    if not math.isfinite(x) or x < 1 << 20:
        raise _bad(key, value, "give a memory size of at least 1MB, e.g. 256MB or 1GB")
    return int(x)


def gpus(key, value):
    """auto, or a number of GPUs >= 0."""
    if str(value) == "auto":
        return "auto"
    return number(key, value, 0.0)


def positive_or_null(key, value):
    if value in (None, "", "null"):
        return None
    try:
        return integer(key, value, 1)
    except ConfigError:
        raise _bad(key, value, "give a positive integer, or null for all") from None


def share_or_count(key, value) -> float:
    """A fraction strictly between 0 and 1, or a whole count >= 1."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if isinstance(value, bool) or not math.isfinite(x) or x <= 0 or (x >= 1 and not x.is_integer()):
        raise _bad(key, value, "give a fraction between 0 and 1 (0.5: half) or a whole count (e.g. 20)")
    return x


def fraction_list(key, value) -> list[float]:
    items = value if isinstance(value, (list, tuple)) else ([] if value in (None, "") else [value])
    return [fraction(f"{key}[{i}]", v) for i, v in enumerate(items)]


#: the longest file name most file systems take (ext4, XFS, APFS, NTFS: 255 bytes)
NAME_MAX = 255


def writable_dir(key: str, value) -> str:
    """A folder that exists and is writable, or can be created (its nearest existing parent is a
    writable folder); not empty, not a file."""
    if value is None or str(value).strip() == "":
        raise _bad(key, value, "give a folder, e.g. " + ("reports/my_run" if key == "out_dir" else ".store"))
    p = Path(str(value)).expanduser()
    # the staging folder's name (.<name>.partial-<pid>) is about 20 bytes longer than the name itself
    long = next((part for part in p.parts if len(part.encode()) + 24 > NAME_MAX), None)
    if long is not None:
        raise _bad(key, value if len(str(value)) < 80 else f"{str(value)[:60]}...",
                   f"the folder name {long[:24]}... is {len(long.encode())} bytes; names are limited to "
                   f"{NAME_MAX - 24} bytes here")
    if p.exists() and not p.is_dir():
        raise _bad(key, value, "it is a file, not a folder")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise _bad(key, value, f"{probe} is a file, not a folder")
    try:  # a real write: permission bits say nothing to root, nor of a read-only mount
        with tempfile.TemporaryFile(dir=probe, prefix=".fr-eval-write-test-"):
            pass
    except OSError as exc:
        raise _bad(key, value, f"{probe} is not writable ({exc.strerror or exc})") from None
    return str(p)


def retry_scales(key, value) -> list:
    """Factors strictly between 0 and 1 (the image scaled down for a second detection pass)."""
    try:
        out = [float(f) for f in (value or ())]
    except (TypeError, ValueError):
        raise _bad(key, value, "give a list of factors between 0 and 1, e.g. [0.5]") from None
    if any(not 0 < f < 1 for f in out):
        raise _bad(key, value, "give factors between 0 and 1 (exclusive), e.g. [0.5], or [] for a single pass")
    return out


def det_size(key, value):
    """fit, or [width, height] in multiples of 32 (SCRFD's strides)."""
    if str(value) == "fit":
        return "fit"
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        raise _bad(key, value, "give fit or [width, height] in multiples of 32, e.g. [640, 640]") from None
    if w < 32 or h < 32 or w % 32 or h % 32:
        raise _bad(key, value, "give fit or [width, height] in multiples of 32, e.g. [640, 640]")
    return [w, h]


def score_format(key, value):
    if value in (None, "", "null"):
        return None
    return choice(key, value, ("csv", "parquet", "bob4", "bob5", "pyeer"))


#: generated.video.frames: which frames of a video are kept
FRAME_RULE = re.compile(r"^(all|every:(?P<every>\d+)|uniform:(?P<uniform>\d+))$")


def frame_rule(key, value) -> str:
    """``all`` | ``every:N`` | ``uniform:K`` (N, K >= 1)."""
    m = FRAME_RULE.match(str(value).strip())
    if not m or any(m.group(g) is not None and int(m.group(g)) < 1 for g in ("every", "uniform")):
        raise _bad(key, value, "choose all, every:N or uniform:K (N, K >= 1)")
    return str(value).strip()
