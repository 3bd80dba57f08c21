"""Kelley's DeOldify [Ke19]: the fork's Unet34 with random weights, saved in each author's layout."""
import json
import re
import shlex

import numpy as np
import pytest


torch = pytest.importorskip("torch", reason="the DeOldify tests need PyTorch (CPU: pip install torch==2.13.0)")

from conftest import LFW_SMALL, PROJECT, need  # noqa: E402

from fr_eval.colourisers import build_colouriser  # noqa: E402
from fr_eval.colourisers.deoldify import load_generator  # noqa: E402
from fr_eval.colourisers.deoldify_net import DeOldifyGenerator, SpectralNormConv  # noqa: E402
from fr_eval.colourisers.kelley_net import KelleyUnet34  # noqa: E402
from fr_eval.errors import ModelFilesMissing  # noqa: E402
from fr_eval.images import greyscale_rec709, load_image  # noqa: E402


def random_kelley(seed=0) -> KelleyUnet34:
    torch.manual_seed(seed)
    net = KelleyUnet34()
    with torch.no_grad():  # a used network: BatchNorm statistics, attention switched on
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.05)
                m.running_var.uniform_(0.8, 1.2)
        net.up3.out[1].gamma.fill_(0.5)
    return net.eval()


def pytorch_04_layout(state: dict) -> dict:
    """As PyTorch 0.4.1 saved it: the normalised weight stored as ``weight``, no ``weight_v``, no
    ``num_batches_tracked``."""
    out = {}
    for k, v in state.items():
        if k.endswith(("weight_v", "num_batches_tracked")):
            continue
        if k.endswith("weight_orig"):
            base = k[:-len("_orig")]
            sigma = torch.dot(state[base + "_u"], v.reshape(v.shape[0], -1) @ state[base + "_v"])
            out[base] = v / sigma
        out[k] = v
    return out


@pytest.fixture(scope="module")
def kelley_files(tmp_path_factory):
    net = random_kelley()
    d = tmp_path_factory.mktemp("kelley")
    sd = net.state_dict()
    torch.save(pytorch_04_layout(sd), d / "colorize_gen_192.h5", _use_new_zipfile_serialization=False)
    torch.save(sd, d / "ColorizeOpenSourceV1.pth")
    torch.save({"model": sd, "opt": None}, d / "fastai.pth")
    return net, d


def test_every_published_layout_loads_strictly(kelley_files):
    net, d = kelley_files
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        want = net(x)
    for name in ("colorize_gen_192.h5", "ColorizeOpenSourceV1.pth", "fastai.pth"):
        loaded = load_generator(d / name, "kelley")
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), want, rtol=1e-4, atol=1e-5)
    # PyTorch 0.4's file: the module applies the stored weight itself, as 0.4.1 did in evaluation
    old = torch.load(d / "colorize_gen_192.h5", weights_only=True)
    conv = load_generator(d / "colorize_gen_192.h5", "kelley").up1.x_conv.seq[0]
    assert isinstance(conv, SpectralNormConv)
    torch.testing.assert_close(conv.weight(), old["up1.x_conv.seq.0.weight"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("render_factor", [3, 4, 7])
def test_forward_in_minus_one_one_at_render_sizes(kelley_files, render_factor):
    net, _ = kelley_files
    sz = 16 * render_factor
    with torch.no_grad():
        y = net(torch.randn(1, 3, sz, sz) * 2)
    # an odd factor leaves the ResNet's last map half a pixel short; the fork pads every level
    # and crops the sum (1 + 2 + 4 + 8) from the full-size output: one pixel more than the input
    assert y.shape == (1, 3, sz + render_factor % 2, sz + render_factor % 2)
    assert float(y.min()) >= -1 and float(y.max()) <= 1 and float(y.std()) > 1e-3


def test_colourise_keeps_luminance_and_stretches_as_the_notebooks_save(kelley_files, lfw_small):
    _, d = kelley_files
    grey = greyscale_rec709(load_image(sorted(lfw_small.rglob("*.jpg"))[0]))
    outs = {}
    for output in ("bytescale", "clip"):
        col = build_colouriser("k", {"k": {"type": "deoldify_kelley", "weights": str(d / "colorize_gen_192.h5"),
                                           "render_factor": 4, "device": "cpu", "output": output}})
        outs[output] = col.colourise(grey)
        assert outs[output].shape == grey.shape and outs[output].dtype == np.uint8
    assert col.settings()["type"] == "deoldify_kelley" and col.settings()["output"] == "clip"
    import cv2
    clip = outs["clip"]
    y_in = cv2.cvtColor(grey, cv2.COLOR_BGR2YUV)[..., 0].astype(int)  # the legacy merge's Y
    y_out = cv2.cvtColor(clip, cv2.COLOR_BGR2YUV)[..., 0].astype(int)
    unclipped = ((clip > 0) & (clip < 255)).all(axis=2)
    assert unclipped.mean() > 0.3 and np.abs(y_in - y_out)[unclipped].max() <= 1
    assert np.abs(clip.astype(int) - clip.mean(axis=2, keepdims=True)).mean() > 0.5  # coloured
    # bytescale: the same image, its own min..max stretched to 0..255
    stretched = outs["bytescale"].astype(float)
    lo, hi = clip.min(), clip.max()
    assert stretched.min() == 0 and stretched.max() == 255
    assert np.abs(stretched - (clip - lo) * 255.0 / (hi - lo)).max() <= 1.5


def test_mismatched_files_say_what_they_hold(kelley_files, tmp_path):
    _, d = kelley_files
    with pytest.raises(ModelFilesMissing) as e:
        load_generator(d / "colorize_gen_192.h5", "stable")
    msg = str(e.value)
    assert "\n" not in msg and "DeOldify stable [An19] generator weights (754 tensors, about 833 MiB)" in msg
    # PyTorch 0.4's file: no num_batches_tracked (339 - 50 tensors), each spectral weight stored twice
    assert "754 keys missing (layers.0.0.weight, " in msg and "289 unexpected (rn.0.weight, " in msg
    assert re.search(r"289 unexpected \(([^,()]+, ){4}[^,()]+, \.\.\.\)", msg)  # five named
    assert "The file holds 289 tensors, 534 MiB, under out.* (4), rn.* (180), " in msg
    assert msg.endswith("the layout of kelley (DeOldify Kelley [Ke19]); give it to a colouriser of type=deoldify_kelley")
    torch.manual_seed(2)
    artistic = tmp_path / "ColorizeArtistic_gen.pth"
    torch.save({"model": DeOldifyGenerator("artistic").state_dict(), "opt": None}, artistic)
    with pytest.raises(ModelFilesMissing) as e:
        load_generator(artistic, "kelley")
    msg = str(e.value)
    assert "DeOldify Kelley [Ke19] generator weights (339 tensors, about 308 MiB; 534 MiB as saved by" in msg
    assert "378 tensors, 243 MiB, under layers.* (378): the layout of artistic (DeOldify artistic [An19]); " \
           "give it to a colouriser of type=deoldify, model=artistic" in msg
    (tmp_path / "list.pth").write_bytes(b"")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ModelFilesMissing, match="holds no state dict"):
        load_generator(tmp_path / "list.pth", "kelley")


def readme_kelley_command() -> list:
    text = (PROJECT / "README.md").read_text()
    line = re.search(r"^fr-eval (scenario=\S+ .*deoldify-kelley.*)$", text, re.M).group(1)
    return shlex.split(line, comments=True)


@pytest.mark.slow
def test_readme_command_gives_the_papers_two_rows(kelley_files, tmp_path, monkeypatch):
    """``colouriser=[deoldify-stable,deoldify-kelley]``: both generators, random weights in their
    authors' layouts under their published names in the cache, end to end on deepfunneled_small."""
    from fr_eval.cli import main
    _, d = kelley_files
    cache = tmp_path / "cache" / "fr-eval" / "deoldify"
    cache.mkdir(parents=True)
    (cache / "colorize_gen_192.h5").write_bytes((d / "colorize_gen_192.h5").read_bytes())
    torch.manual_seed(3)
    stable = DeOldifyGenerator("stable")
    with torch.no_grad():
        for m in stable.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.fill_(1.0)
    torch.save({"model": stable.state_dict(), "opt": None}, cache / "ColorizeStable_gen.pth")  # fastai's learn.save
    del stable
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "r"
    code = main(readme_kelley_command() + [
        f"dataset.root={need(LFW_SMALL)}", "colourisers.deoldify-stable.render_factor=2",
        "colourisers.deoldify-kelley.render_factor=3", f"out_dir={out}", f"store_dir={tmp_path / 's'}",
        "progress=false", "bootstrap.n_resamples=50", "system=sface", "workers=2"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [r["label"] for r in m["rows"]] == ["4 [deoldify-stable]", "4 [deoldify-kelley]",
                                               "5 [deoldify-stable]", "5 [deoldify-kelley]"]
    kel, st = m["colourisers"]["deoldify-kelley"], m["colourisers"]["deoldify-stable"]
    assert kel["type"] == "deoldify_kelley" and kel["merge"] == "legacy" and kel["output"] == "bytescale"
    assert kel["weights"].endswith("colorize_gen_192.h5") and st["weights"].endswith("ColorizeStable_gen.pth")
    from fr_eval.provenance import file_sha256
    assert kel["sha256"] == file_sha256(cache / "colorize_gen_192.h5")
    table = (out / "table3.md").read_text()
    assert "DeOldify Kelley [Ke19], 2019 merge" in table and "DeOldify stable [An19], 2019 merge" in table
    for row in m["rows"]:
        assert row["colouriser"] == row["label"][3:-1] and row["n_genuine_compared"] > 0 and 0 <= row["frr"] <= 1  # a fraction
    for name in ("deoldify-stable", "deoldify-kelley"):
        kept = list((tmp_path / "s" / "images" / f"colourised_{name}_").rglob("*.png"))
        assert len(kept) == 120, name


def test_readme_command_without_weights_is_one_line(tmp_path, monkeypatch, capsys):
    from fr_eval.cli import main
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FR_EVAL_OFFLINE", "1")
    code = main(readme_kelley_command() + [f"dataset.root={need(LFW_SMALL)}", f"out_dir={tmp_path / 'r'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "ColorizeStable_gen.pth" in err[0] and "about 833 MiB" in err[0]
    code = main(["scenario=4", "colouriser=deoldify-kelley", f"dataset.root={LFW_SMALL}", f"out_dir={tmp_path / 'r'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("error: DeOldify Kelley [Ke19] weights")
