"""Image loading and the greyscale transform.

Everything downstream works on RGB ``uint8`` arrays of shape (H, W, 3).
"""
from __future__ import annotations

import bz2
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Rec. 709 luma weights, exactly as ImageMagick's ``-grayscale Rec709Luma`` uses them
#: (applied to the stored, gamma-encoded R'G'B' values).
REC709_LUMA = np.array([0.212656, 0.715158, 0.072186])


#: images with more pixels than this are failures to acquire ("image too large"), not read:
#: Pillow's decompression-bomb guard, as a setting (``max_image_pixels``); Pillow's own default
DEFAULT_MAX_PIXELS = 89_478_485
MAX_PIXELS = DEFAULT_MAX_PIXELS


def set_max_pixels(n: int) -> None:
    """The pixel limit of :func:`load_image` in this process (worker processes are given it too)."""
    global MAX_PIXELS
    MAX_PIXELS = int(n)
    # Pillow refuses images above twice its own limit before we can look at their size
    Image.MAX_IMAGE_PIXELS = max(int(n), DEFAULT_MAX_PIXELS)


class ImageLoadError(Exception):
    """The file could not be read as an image (the reason is the message): a property of the file,
    kept in the store as a failure to acquire."""


class ImageReadError(Exception):
    """The machine could not read the file (an I/O error, out of memory): not a property of the
    image, so never stored; the sample is retried on the next run."""


def _too_large(size) -> str | None:
    w, h = size
    if w * h > MAX_PIXELS:
        return f"image too large ({w}\u00d7{h} px = {w * h:,} pixels > max_image_pixels={MAX_PIXELS:,})"
    return None


def load_image(source: str | Path | bytes) -> np.ndarray:
    """Read an image file (or its bytes) as RGB ``uint8``.

    EXIF orientation is applied; ``.bz2``-compressed files are read transparently. Every Pillow mode is converted to 8-bit RGB:
    palettes are expanded, alpha is composited on white, CMYK and YCbCr are converted
    by Pillow, 16-bit greyscale (``I;16``) is scaled from its full range to 8 bits, 32-bit integer and float
    greyscale (``I``, ``F``) from the range their values occupy (:func:`_scale_wide`).
    Raises :class:`ImageLoadError` with the reason for anything unreadable.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            if isinstance(source, (bytes, bytearray)):
                im = Image.open(io.BytesIO(source))
            elif str(source).endswith(".bz2"):  # FERET ships its images as .ppm.bz2
                with bz2.open(source, "rb") as f:
                    im = Image.open(io.BytesIO(f.read()))
            else:
                im = Image.open(source)
            too_large = _too_large(im.size)
            if too_large:
                raise ImageLoadError(too_large)
            im.load()
    except FileNotFoundError as exc:
        raise ImageLoadError(f"file not found: {source}") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"image too large ({exc})") from exc
    except MemoryError as exc:
        raise ImageReadError("out of memory while reading the image") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (None, 0) and not isinstance(exc, UnidentifiedImageError):
            # an error of the machine (EIO, EMFILE, ...), not of the file's content
            raise ImageReadError(f"could not read the file ({exc.strerror or exc})") from exc
        raise ImageLoadError(f"unreadable image ({type(exc).__name__}: {_one_line(exc)})") from exc
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block must not lose the image
        pass
    return to_rgb8(im)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def to_rgb8(im: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any mode to an (H, W, 3) ``uint8`` array."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 65535.0 * 255.0
        else:
            arr = _scale_wide(arr, mode)
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def _scale_wide(arr: np.ndarray, mode: str) -> np.ndarray:
    """A 32-bit integer (``I``) or float (``F``) greyscale image on the 0..255 scale, from the range its values
    actually occupy (these modes have no standard range): a float image within [0, 1] (the usual float
    convention) is multiplied by 255; values within [0, 255] are kept; anything wider is stretched from its
    minimum to its maximum. Non-finite pixels are a one-line error (no face can be read from them)."""
    if not arr.size:
        return arr
    if not np.isfinite(arr).all():
        raise ImageLoadError(f"unreadable image: {int((~np.isfinite(arr)).sum())} of its {arr.size} pixels are "
                             f"NaN or infinite (a 32-bit {'float' if mode == 'F' else 'integer'} image)")
    lo, hi = float(arr.min()), float(arr.max())
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        return arr * 255.0
    if lo >= 0.0 and hi <= 255.0:
        return arr
    return (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)


def greyscale_rec709(rgb: np.ndarray) -> np.ndarray:
    """ImageMagick's ``-grayscale Rec709Luma``, bit-exact, replicated to 3 channels.

    Y' = 0.212656 R' + 0.715158 G' + 0.072186 B' on the stored 8-bit values.
    ImageMagick (Q16) rounds Y' to a 16-bit quantum and writes 8 bits by dividing by
    257 and truncating, i.e. ``floor(round(257 Y') / 257)``. Written by hand because
    ``skimage.color.rgb2gray`` uses other weights and rounding; this rule matched
    Debian's ImageMagick 6.9.11 Q16 on every pixel of 120 LFW photos
    (``tests/integration/test_images.py`` checks it against the real binary).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    y = rgb.astype(np.float64) @ REC709_LUMA
    y8 = np.floor(np.rint(y * 257.0) / 257.0)
    grey = np.clip(y8, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def save_png_atomic(rgb: np.ndarray, path: str | Path) -> None:
    """Write an RGB image as PNG through a temporary file and an atomic rename.

    The temporary file's name is unique to this call (``tempfile`` in the same folder), so several
    processes writing the same image at once each rename a whole file of their own into place; a
    failed write (disk full) removes its temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(rgb).save(f, format="PNG")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the image from other users of a shared store
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
