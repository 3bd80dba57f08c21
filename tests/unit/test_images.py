import io

import numpy as np
import pytest
from PIL import Image

from fr_eval.images import ImageLoadError, greyscale_rec709, load_image, to_rgb8



def test_greyscale_formula_edges():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]], np.uint8)
    g = greyscale_rec709(rgb)[0, :, 0]
    y = rgb[0].astype(float) @ [0.212656, 0.715158, 0.072186]
    assert list(g[:2]) == [255, 0]
    assert np.all(np.abs(g - y) < 1.0)  # within one level of the exact luma


def _png(img):
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "1", "RGB"])
def test_load_any_mode(mode, tmp_path):
    base = Image.new("RGB", (20, 10), (200, 100, 50))
    if mode == "I;16":
        im = Image.fromarray(np.full((10, 20), 65535, np.uint16))
    elif mode == "CMYK":
        im = base.convert("CMYK")
        path = tmp_path / "x.jpg"
        im.save(path)
        arr = load_image(path)
        assert arr.shape == (10, 20, 3) and arr.dtype == np.uint8
        return
    else:
        im = base.convert(mode)
    arr = load_image(_png(im))
    assert arr.shape == (10, 20, 3) and arr.dtype == np.uint8
    if mode == "I;16":
        assert arr.max() == 255


def test_rgba_composited_on_white():
    im = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert (load_image(_png(im)) == 255).all()


def test_exif_orientation(tmp_path):
    im = Image.new("RGB", (30, 10), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 5, 10))  # white strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    path = tmp_path / "o.jpg"
    im.save(path, exif=exif.tobytes(), quality=95)
    arr = load_image(path)
    assert arr.shape == (30, 10, 3)  # portrait after the EXIF rotation
    assert arr[:5, :, :].mean() > 200  # the white strip is now at the top


def test_unreadable_and_missing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageLoadError, match="unreadable"):
        load_image(bad)
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nope.jpg")
    truncated = tmp_path / "t.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="JPEG")
    truncated.write_bytes(buf.getvalue()[:100])
    with pytest.raises(ImageLoadError):
        load_image(truncated)


def test_to_rgb8_float_image():
    im = Image.fromarray(np.linspace(0, 1000, 20, dtype=np.float32).reshape(4, 5), mode="F")
    arr = to_rgb8(im)
    assert arr.min() == 0 and arr.max() == 255
