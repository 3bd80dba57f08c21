"""DeOldify: the real architectures with random weights, saved in the official key layout."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the DeOldify tests need PyTorch (CPU: pip install torch==2.13.0)")

from fr_eval.colourisers import build_colouriser  # noqa: E402
from fr_eval.colourisers.weights import PUBLISHED, resolve_weights  # noqa: E402
from fr_eval.colourisers.deoldify_net import (DeOldifyGenerator, SpectralNormConv,  # noqa: E402
                                              WeightNormConv)
from fr_eval.errors import ModelFilesMissing  # noqa: E402
from fr_eval.images import greyscale_rec709, load_image  # noqa: E402


def test_spectral_and_weight_norm_match_pytorch():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 4, 3, padding=1)
    sn = torch.nn.utils.spectral_norm(torch.nn.Conv2d(6, 4, 3, padding=1))
    sn.train()
    x = torch.randn(2, 6, 9, 9)
    for _ in range(3):
        sn(x)  # a few power iterations, as a trained network's u and v
    sn.eval()
    ours = SpectralNormConv(conv)
    ours.load_state_dict(sn.state_dict(), strict=True)  # weight_orig, bias, weight_u, weight_v
    torch.testing.assert_close(ours(x), sn(x))
    with torch.no_grad():  # the normalised weight is kept under no_grad, and follows a new state dict
        first = ours(x)
        assert ours.weight() is ours.weight()
        for _ in range(2):
            sn.train()
            sn(x)  # u and v move on
        sn.eval()
        sn.weight_orig.mul_(1.5)
        ours.load_state_dict(sn.state_dict(), strict=True)
        torch.testing.assert_close(ours(x), sn(x))
        assert not torch.allclose(ours(x), first)
    wn = torch.nn.utils.weight_norm(torch.nn.Conv2d(6, 4, 1))
    ours_w = WeightNormConv(torch.nn.Conv2d(6, 4, 1))
    ours_w.load_state_dict(wn.state_dict(), strict=True)  # weight_g, weight_v, bias
    torch.testing.assert_close(ours_w(x), wn(x))


def test_official_key_layout_and_size():
    net = DeOldifyGenerator("stable")
    sd = net.state_dict()
    # the first decoder block's pixel-shuffle conv: 512 * nf_factor(2) * 2 output channels
    assert sd["layers.4.shuf.conv.0.weight_orig"].shape[0] == 2048
    assert "layers.4.shuf.conv.0.weight_u" in sd and "layers.4.shuf.conv.1.running_mean" in sd
    assert "layers.0.4.0.conv1.weight" in sd and "layers.0.7.2.bn3.num_batches_tracked" in sd  # ResNet-101 body
    assert "layers.3.0.0.weight_orig" in sd and "layers.3.1.2.running_var" in sd  # middle convs + BN
    assert "layers.5.conv.3.query.weight_orig" in sd and sd["layers.5.conv.3.gamma"].shape == (1,)  # attention
    assert "layers.8.conv.0.weight_g" in sd and "layers.8.conv.0.bias" in sd  # weight-normed final upsampling
    assert "layers.10.layers.1.0.weight_orig" in sd  # res_block
    assert sd["layers.11.0.weight_orig"].shape == (3, 256 + 3, 1, 1)  # final 1x1 conv after the dense merge
    for arch in ("stable", "artistic"):
        n = DeOldifyGenerator(arch).state_dict()
        mb = sum(t.numel() * t.element_size() for t in n.values()) / 2**20
        assert abs(mb - PUBLISHED[arch].mib) / PUBLISHED[arch].mib < 0.02


@pytest.fixture(scope="module")
def artistic_checkpoint(tmp_path_factory):
    torch.manual_seed(1)
    net = DeOldifyGenerator("artistic")
    with torch.no_grad():  # make the random network's output depend on its input
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.fill_(1.0)
                m.running_mean.zero_()
    path = tmp_path_factory.mktemp("w") / "ColorizeArtistic_gen.pth"
    torch.save({"model": net.state_dict(), "opt": None}, path)  # fastai's learn.save layout
    return path


def test_artistic_end_to_end(artistic_checkpoint, lfw_small):
    col = build_colouriser("deoldify-artistic", {"deoldify-artistic": {
        "type": "deoldify", "model": "artistic", "weights": str(artistic_checkpoint), "render_factor": 4,
        "device": "cpu"}})
    assert col.settings()["sha256"] and col.settings()["sha256_verified"] is False
    grey = greyscale_rec709(load_image(sorted(lfw_small.rglob("*.jpg"))[0]))
    out = col.colourise(grey)
    assert out.shape == grey.shape and out.dtype == np.uint8
    import cv2
    # DeOldify keeps the input's luminance (Y of its YUV merge) wherever the merged colour
    # fits in RGB; where a channel clips at 0 or 255, Y moves (a random network's extreme
    # chroma clips far more often than a trained one's)
    y_in = cv2.cvtColor(grey, cv2.COLOR_BGR2YUV)[..., 0].astype(int)
    y_out = cv2.cvtColor(out, cv2.COLOR_BGR2YUV)[..., 0].astype(int)
    unclipped = ((out > 0) & (out < 255)).all(axis=2)
    assert unclipped.mean() > 0.3
    assert np.abs(y_in - y_out)[unclipped].max() <= 1
    chroma = np.abs(out.astype(int) - out.mean(axis=2, keepdims=True)).mean()
    assert chroma > 0.5  # not grey
    # a colouriser built for another worker process loads the network itself, once
    import pickle
    clone = pickle.loads(pickle.dumps(col))
    assert clone._net is None and np.array_equal(clone.colourise(grey), out)


def test_wrong_architecture_is_a_clear_error(artistic_checkpoint):
    from fr_eval.colourisers.deoldify import load_generator
    with pytest.raises(ModelFilesMissing, match="of another shape"):
        load_generator(artistic_checkpoint, "stable")


def test_missing_weights_error_names_file_url_and_size(tmp_path):
    with pytest.raises(ModelFilesMissing) as e:
        resolve_weights("stable", None, cache_dir=tmp_path, download=False)
    msg = str(e.value)
    assert "ColorizeStable_gen.pth" in msg and "https://" in msg and str(tmp_path) in msg and "833 MiB" in msg
    with pytest.raises(ModelFilesMissing, match="does not match"):
        p = tmp_path / "w.pth"
        p.write_bytes(b"x")
        resolve_weights("stable", str(p), sha256="0" * 64)


def test_scenarios_4_and_5_with_deoldify_and_exemplar(artistic_checkpoint, lfw_small, tmp_path):
    """One Table 3 row per colouriser; DeOldify defined on the command line, as a user would
    name Kelley's weights; run in worker processes that load the network themselves."""
    import json

    from fr_eval.cli import main
    out = tmp_path / "r"
    code = main(["scenario=[4,5]", "system=sface", f"dataset.root={lfw_small}",
                 f"+colourisers.rand={{type:deoldify,model:artistic,weights:{artistic_checkpoint},render_factor:2,"
                 f"device:cpu}}", "colouriser=[exemplar,rand]", f"out_dir={out}", f"store_dir={tmp_path / 's'}",
                 "progress=false", "bootstrap.n_resamples=100", "workers=2"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [r["label"] for r in m["rows"]] == ["4 [exemplar]", "4 [rand]", "5 [exemplar]", "5 [rand]"]
    assert m["colourisers"]["rand"]["type"] == "deoldify" and len(m["colourisers"]["rand"]["sha256"]) == 64
    assert m["colourisers"]["rand"]["merge"] == "legacy"  # the paper's era, said in every row's note
    assert "- 4 [rand], 5 [rand]: DeOldify artistic [An19], 2019 merge" in (out / "table3.md").read_text()
    assert m["engine"]["workers"] == 2 and m["engine"]["parallel"] == "process"
    assert (out / "colourisation_examples.png").is_file()
    kept = list((tmp_path / "s" / "images" / "colourised_rand_").rglob("*.png"))
    assert len(kept) == 120  # every image colourised once, kept as a file


def yuv_merge_by_hand(colour, grey, order):
    """The merge written out: Y of the grey pixel, U and V of the colour pixel, with OpenCV's YUV
    definition (Y = .299 R + .587 G + .114 B, U = .492 (B - Y) + 128, V = .877 (R - Y) + 128) applied
    to the channels in ``order`` ("rgb": as they are; "bgr": the first channel read as blue)."""
    def yuv(px):
        r, g, b = px if order == "rgb" else px[::-1]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        return y, 0.492 * (b - y) + 128, 0.877 * (r - y) + 128
    y = yuv(grey)[0]
    _, u, v = yuv(colour)
    r, b = y + (v - 128) / 0.877, y + (u - 128) / 0.492
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    out = np.clip(np.rint([r, g, b]), 0, 255)
    return out if order == "rgb" else out[::-1]


def test_the_two_yuv_merges_on_a_hand_made_image():
    from fr_eval.colourisers.deoldify import deoldify_postprocess

    colour = np.array([[[200, 60, 40]]], np.uint8)  # a red-orange pixel, RGB
    grey = np.array([[[100, 100, 100]]], np.uint8)
    got = {m: deoldify_postprocess(colour, grey, m)[0, 0].astype(int) for m in ("legacy", "rgb")}
    assert np.abs(got["rgb"] - yuv_merge_by_hand([200, 60, 40], [100, 100, 100], "rgb")).max() <= 1
    assert np.abs(got["legacy"] - yuv_merge_by_hand([200, 60, 40], [100, 100, 100], "bgr")).max() <= 1
    assert got["rgb"][0] > got["rgb"][2]  # the RGB merge keeps red red
    assert np.abs(got["rgb"] - got["legacy"]).max() > 20  # the legacy one moves it towards blue
    with pytest.raises(ValueError, match="choose from legacy, rgb"):
        deoldify_postprocess(colour, grey, "bgr")
