"""DeOldify's weight files, as their authors published them: where they are found, how they are read.

Both authors' files are PyTorch state dicts, in one of three layouts, all accepted:

* a plain state dict (Kelley's ``colorize_gen_192.h5``, saved by ``torch.save(m.state_dict())``);
* fastai v1's ``learn.save`` file, ``{"model": state_dict, "opt": ...}`` (Antic's ``*_gen.pth``);
* either saved by PyTorch 0.4, whose spectral norm stored each normalised weight as a buffer
  ``weight`` and had no ``weight_v`` (the fork's ``environment.yml`` pins ``pytorch==0.4.1``).

A file that does not fit the architecture is a one-line error naming at most five missing,
unexpected and reshaped keys, and what the file holds instead.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import fetch
from ..errors import ConfigError, ModelFilesMissing
from ..provenance import file_sha256


@dataclass(frozen=True)
class Published:
    label: str  # how messages and reports name the generator
    files: tuple  # names looked for in the cache dir; a download is saved as the first
    url: str
    keys: int  # tensors in the state dict (PyTorch >= 1.0 layout)
    batchnorms: int  # of which num_batches_tracked (absent from files of PyTorch < 0.4.1)
    mib: int  # MiB of those tensors, as the architecture adds them up (tests/integration/test_deoldify.py, tests/unit/test_kelley.py)
    tops: frozenset = frozenset({"layers"})  # the top-level modules (fastai v1's SequentialEx: layers.<i>)
    note: str = ""


#: the known generators (no checksums are published for any of them)
PUBLISHED = {
    "stable": Published("DeOldify stable [An19]", ("ColorizeStable_gen.pth",),
                        "https://data.deepai.org/deoldify/ColorizeStable_gen.pth", 754, 119, 833),
    "artistic": Published("DeOldify artistic [An19]", ("ColorizeArtistic_gen.pth",),
                          "https://data.deepai.org/deoldify/ColorizeArtistic_gen.pth", 378, 55, 243),
    "video": Published("DeOldify video [An19]", ("ColorizeVideo_gen.pth",),
                       "https://data.deepai.org/deoldify/ColorizeVideo_gen.pth", 754, 119, 833),
    # the fork's README links dropbox.com/s/7r2wu0af6okv280/colorize_gen_192.h5, gone since 2023;
    # Antic re-uploaded it as ColorizeOpenSourceV1.pth (jantic/DeOldify issue #486, 2023-10-21)
    "kelley": Published("DeOldify Kelley [Ke19]", ("ColorizeOpenSourceV1.pth", "colorize_gen_192.h5"),
                        "https://www.dropbox.com/scl/fi/kq71pa6spwj430h9nteqv/ColorizeOpenSourceV1.pth"
                        "?rlkey=fpywnia7upd5z992o6gtxze8w&dl=1", 339, 50, 308,
                        tops=frozenset({"rn", "up1", "up2", "up3", "up4", "up5", "out"}), note="534 MiB as saved by PyTorch 0.4, which also stored each spectral weight"),
}


def size_text(model: str) -> str:
    p = PUBLISHED[model]
    return f"about {p.mib} MiB" + (f"; {p.note}" if p.note else "")


def resolve_weights(model: str, weights: str | None = None, cache_dir: str | Path | None = None,
                    download: bool = True, sha256: str | None = None) -> Path:
    """The weights file: an explicit path, else one of the published names in ``<cache_dir>``, else
    downloaded there (with progress; checked against ``sha256`` when one is given). Offline,
    :class:`ModelFilesMissing` names the file, its URL, its size and where to put it."""
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise ModelFilesMissing(f"DeOldify weights not found: {p}")
        return _checked(p, sha256)
    if model not in PUBLISHED:
        raise ConfigError(f"DeOldify model={model} has no published weights; choose from "
                          f"{', '.join(PUBLISHED)} or give weights=<file>")
    pub = PUBLISHED[model]
    target = Path(cache_dir).expanduser() if cache_dir else Path(fetch.cache_dir("deoldify"))
    for name in pub.files:
        if (target / name).is_file():
            return _checked(target / name, sha256)
    why = ""
    if download:
        try:
            return fetch.download(pub.url, target / pub.files[0], sha256=sha256)  # unverified (logged) without one
        except fetch.DownloadFailed as exc:
            why = f" ({exc.reason})"
    names = " or ".join(f"'{n}'" for n in pub.files)
    raise ModelFilesMissing(
        f"{pub.label} weights {names} not found in {target}{why}: download {pub.url} "
        f"({size_text(model)}) into {target}/, or give weights=<file>")


def _checked(path: Path, sha256: str | None) -> Path:
    if sha256 and file_sha256(path) != sha256.lower():
        raise ModelFilesMissing(f"{path}: sha256 {file_sha256(path)} does not match the expected {sha256}")
    return path


def read_state(path: str | Path) -> dict:
    """The file's state dict (``weights_only=True``: no pickled code runs), unwrapped from fastai's
    ``{"model": ..., "opt": ...}``."""
    import torch  # optional heavy dependency (torch), loaded only when used

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one holding arbitrary pickled objects
        raise ModelFilesMissing(f"{path} could not be read as PyTorch weights: {' '.join(str(exc).split())}") from exc
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise ModelFilesMissing(f"{path} holds no state dict (a {type(obj).__name__}), so no generator weights")
    return dict(obj)


def conform(state: dict, expected: dict) -> tuple[dict, list]:
    """Bring a file written by an older PyTorch to the module's layout; also returns what was done.

    * PyTorch 0.4's spectral norm kept ``weight`` (the normalised weight of the last training step)
      and ``weight_u``, and in evaluation mode used that stored ``weight`` as it is. Here it becomes
      ``weight_orig`` with ``weight_v = W^T u / |W^T u|^2``, so that ``sigma = u . W v = 1`` and the
      weight the module applies is the stored one, as the fork's PyTorch 0.4.1 applied it. (PyTorch
      >= 1.0's own load hook instead rescales the older ``weight_orig``, which differs from the stored
      weight by the last optimiser step; it only runs on ``torch.nn.utils.spectral_norm`` modules.)
    * ``num_batches_tracked`` (PyTorch >= 0.4.1, unused in evaluation) is added where missing.
    """
    import torch  # optional heavy dependency (torch), loaded only when used

    state, notes = dict(state), []
    legacy = [k[:-len("_v")] for k in expected if k.endswith("weight_v") and k not in state
              and k[:-len("_v")] in state and k[:-len("_v")] + "_u" in state]
    for k in legacy:
        w = state.pop(k).float()
        u = state[k + "_u"].float()
        wtu = w.reshape(w.shape[0], -1).t() @ u
        state[k + "_orig"], state[k + "_v"] = w, wtu / torch.dot(wtu, wtu)
    if legacy:
        notes.append(f"PyTorch 0.4 spectral-norm layout: {len(legacy)} stored weights used as they are")
    counts = [k for k in expected if k.endswith("num_batches_tracked") and k not in state
              and k.replace("num_batches_tracked", "running_mean") in state]
    for k in counts:
        state[k] = torch.tensor(0, dtype=torch.long)
    if counts:
        notes.append(f"{len(counts)} BatchNorm num_batches_tracked added (unused in evaluation)")
    return state, notes


def mismatch(state: dict, expected: dict, model: str, path, raw: dict) -> str | None:
    """None if ``state`` fits ``expected`` key for key and shape for shape, else the one-line reason
    (``raw``: the file's own state dict, described)."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} for {tuple(expected[k].shape)}" for k in expected
             if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or wrong):
        return None
    parts = [f"{len(v)} {what} ({', '.join(v[:5])}{', ...' if len(v) > 5 else ''})"
             for what, v in (("keys missing", missing), ("unexpected", unexpected), ("of another shape", wrong)) if v]
    return (f"{path} does not hold {PUBLISHED[model].label} generator weights ({PUBLISHED[model].keys} tensors, "
            f"{size_text(model)}): {'; '.join(parts)}. The file holds {describe(raw)}")


def describe(state: dict) -> str:
    """What a state dict looks like: its size, top-level modules and, when it fits one, which
    published generator's layout it has."""
    mib = sum(v.numel() * v.element_size() for v in state.values()) / 2**20
    tops = Counter(k.split(".")[0] for k in state)
    text = (f"{len(state)} tensors, {mib:.0f} MiB, under "
            + ", ".join(f"{t}.* ({n})" for t, n in sorted(tops.items())[:8]) + (", ..." if len(tops) > 8 else ""))
    core = sum(1 for k in state if not k.endswith("num_batches_tracked"))  # any PyTorch's file
    like = [m for m, pub in PUBLISHED.items() if core == pub.keys - pub.batchnorms and set(tops) == pub.tops]
    if like:
        how = "type=deoldify_kelley" if like == ["kelley"] else f"type=deoldify, model={'|'.join(like)}"
        text += f": the layout of {' / '.join(like)} ({PUBLISHED[like[0]].label}); give it to a colouriser of {how}"
    return text


def load_into(net, path, model: str):
    """Load the file into ``net`` strictly, after :func:`conform`; returns the notes of what conform did."""
    expected = net.state_dict()
    raw = read_state(path)
    state, notes = conform(raw, expected)
    why = mismatch(state, expected, model, path, raw)
    if why:
        raise ModelFilesMissing(why)
    net.load_state_dict(state, strict=True)
    return notes
