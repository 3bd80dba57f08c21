"""Downloads on first use (model packs, LFW) against a local HTTP server on 127.0.0.1, never the
real hosts: a good archive, a corrupted one, a checksum mismatch, a server that is not there."""
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from fr_eval.fetch import DownloadFailed
from fr_eval.systems import build_system

from conftest import DET_500M, LFW_SMALL, MOBILEFACENET, SHARED, need
from unit.test_fetch import sha256


LFW_MIN20 = SHARED / "data/lfw/deepfunneled_min20"


def pack_zip(path: Path) -> str:
    """A buffalo_s-style pack zip (files at the top, as insightface's zips hold them) from ../shared's
    two models; returns its sha256."""
    with zipfile.ZipFile(path, "w") as z:
        z.write(need(DET_500M), "det_500m.onnx")
        z.write(need(MOBILEFACENET), "w600k_mbf.onnx")
    return sha256(path)


def auto(root, url, sha):
    return build_system({"name": "auto", "arcface": {"name": "arcface", "pack": "buffalo_s", "root": str(root),
                                                     "url": url, "sha256": sha}, "sface": {"name": "sface"}})


def leftovers(root: Path) -> list:
    return [p.name for p in (root / "models").glob("*")] if (root / "models").exists() else []


def test_auto_downloads_the_pack_checks_it_and_runs_arcface(server, tmp_path):
    www, base = server
    sha = pack_zip(www / "buffalo_s.zip")
    root = tmp_path / "insightface"
    system, note = auto(root, f"{base}/buffalo_s.zip", sha)
    assert system.name == "arcface" and "chose arcface (buffalo_s)" in note
    d = root / "models" / "buffalo_s"
    assert sha256(d / "det_500m.onnx") == sha256(DET_500M) and sha256(d / "w600k_mbf.onnx") == sha256(MOBILEFACENET)
    assert sorted(leftovers(root)) == ["buffalo_s"]  # the zip and the temporary folder are gone
    models = {m["role"]: m["sha256"] for m in system.describe()["models"]}
    assert models == {"detector": sha256(DET_500M), "recogniser": sha256(MOBILEFACENET)}
    (www / "buffalo_s.zip").unlink()  # second use: no download (the server no longer has it)
    again, _ = auto(root, f"{base}/buffalo_s.zip", sha)
    assert again.name == "arcface"


def test_corrupted_pack_falls_back_to_sface_in_one_short_line(server, tmp_path):
    www, base = server
    sha = pack_zip(www / "buffalo_s.zip")
    data = bytearray((www / "buffalo_s.zip").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (www / "buffalo_s.zip").write_bytes(bytes(data))
    root = tmp_path / "insightface"
    system, note = auto(root, f"{base}/buffalo_s.zip", sha)
    assert system.name == "sface"
    assert note == f"system=auto: using SFace; ArcFace pack buffalo_s is not in {root} (not downloaded: sha256 mismatch)"
    assert leftovers(root) == []  # nothing half-written is kept
    # a truncated zip whose checksum is the one given: checked, then refused as an archive
    (www / "short.zip").write_bytes(bytes(data[:1000]))
    system, note = auto(root, f"{base}/short.zip", sha256(www / "short.zip"))
    assert system.name == "sface" and note.endswith("(not downloaded: not a readable archive)")
    assert leftovers(root) == []


def test_unreachable_server_and_offline_switch(server, tmp_path, monkeypatch):
    _, base = server
    root = tmp_path / "insightface"
    system, note = auto(root, f"{base}/missing.zip", "0" * 64)
    assert system.name == "sface" and note.endswith("(not downloaded: HTTP 404 File not found)")
    closed = "http://127.0.0.1:9/buffalo_s.zip"  # the discard port: nothing listens
    system, note = auto(root, closed, "0" * 64)
    assert "(not downloaded: offline or unreachable: Connection refused)" in note and len(note) - len(str(root)) <= 125
    monkeypatch.setenv("FR_EVAL_OFFLINE", "1")
    system, note = auto(root, f"{base}/buffalo_s.zip", "0" * 64)
    assert note.endswith("(not downloaded: FR_EVAL_OFFLINE is set)")
    assert leftovers(root) == []


# ------------------------------------------------------------------------------------------- LFW
def lfw_archive(path: Path, tmp: Path) -> str:
    """A small lfw-deepfunneled.tgz laid out as LFW's: ../shared's 30-person subset, two people of
    the 20-image subset, and a made-up person with 3 images sorted first (whom the small subset must
    pass over); returns its md5."""
    import tarfile
    small, min20 = need(LFW_SMALL), need(LFW_MIN20)
    with tarfile.open(path, "w:gz") as t:
        for person in sorted(small.iterdir()):
            t.add(person, f"lfw-deepfunneled/{person.name}")
        for name in ("Ariel_Sharon", "Colin_Powell"):
            t.add(min20 / name, f"lfw-deepfunneled/{name}")
        for i, f in enumerate(sorted((small / "Al_Gore").iterdir())[:3]):
            t.add(f, f"lfw-deepfunneled/AA_Three/AA_Three_{i + 1:04d}.jpg")
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_lfw_small_fetched_on_first_use_gives_the_same_figures(server, tmp_path, monkeypatch, capsys):
    import json
    from fr_eval.cli import main
    www, base = server
    md5 = lfw_archive(www / "lfw-deepfunneled.tgz", tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    common = ["scenario=1", "system=sface", "progress=false", "bootstrap.n_resamples=50",
              f"store_dir={tmp_path / 'store'}"]
    fetched = ["dataset.local=null", f"dataset.fetch.url={base}/lfw-deepfunneled.tgz", f"dataset.fetch.md5={md5}"]
    assert main([*common, *fetched, f"out_dir={tmp_path / 'fetched'}"]) == 0
    home = tmp_path / "cache" / "fr-eval" / "datasets" / "lfw"
    small = home / "deepfunneled_small"
    assert sorted(p.name for p in small.iterdir()) == sorted(p.name for p in LFW_SMALL.iterdir())
    for person in LFW_SMALL.iterdir():
        for f in person.iterdir():
            assert (small / person.name / f.name).read_bytes() == f.read_bytes()
    assert (small / "Al_Gore" / "Al_Gore_0001.jpg").stat().st_ino == \
        (home / "lfw-deepfunneled" / "Al_Gore" / "Al_Gore_0001.jpg").stat().st_ino  # a link, not a copy
    assert sorted(p.name for p in home.iterdir()) == ["deepfunneled_small", "lfw-deepfunneled"]  # no leftovers
    assert main([*common, f"dataset.root={LFW_SMALL}", f"out_dir={tmp_path / 'local'}"]) == 0
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("fetched", "local"))
    keys = ("fta", "fnmr", "frr", "threshold", "d_prime", "n_genuine", "n_impostor")
    assert [{k: r[k] for k in keys} for r in a["rows"]] == [{k: r[k] for k in keys} for r in b["rows"]]
    assert a["dataset"]["root"] == str(small)
    # min20 from the same download: the two people with 20 or more images, every image
    (www / "lfw-deepfunneled.tgz").unlink()  # no second download
    from fr_eval.datasets.sources import lfw_subset
    min20 = lfw_subset("min20")
    assert sorted(p.name for p in min20.iterdir()) == ["Ariel_Sharon", "Colin_Powell"]
    assert len(list((min20 / "Colin_Powell").iterdir())) == len(list((LFW_MIN20 / "Colin_Powell").iterdir()))
    # all (pairs mode): LFW itself, with View 2's pairs.txt beside it, checked against LFW's published md5
    shutil.copy(need(SHARED / "data/lfw/protocol/pairs.txt"), www / "pairs.txt")
    assert lfw_subset("all", pairs_url=f"{base}/pairs.txt") == home / "lfw-deepfunneled"
    assert (home / "pairs.txt").read_bytes() == (SHARED / "data/lfw/protocol/pairs.txt").read_bytes()
    (www / "pairs.txt").write_text("2 300\n")  # not the protocol's file: refused
    (home / "pairs.txt").unlink()
    with pytest.raises(DownloadFailed, match="md5"):
        lfw_subset("all", pairs_url=f"{base}/pairs.txt")


def test_lfw_fetch_corrupted_or_offline_one_line(server, tmp_path, monkeypatch, capsys):
    from fr_eval.cli import main
    www, base = server
    md5 = lfw_archive(www / "lfw-deepfunneled.tgz", tmp_path)
    data = bytearray((www / "lfw-deepfunneled.tgz").read_bytes())
    data[len(data) // 3] ^= 0xFF
    (www / "lfw-deepfunneled.tgz").write_bytes(bytes(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = ["scenario=1", "system=sface", "progress=false", f"store_dir={tmp_path / 's'}", "dataset.local=/nope",
            f"dataset.fetch.url={base}/lfw-deepfunneled.tgz", f"dataset.fetch.md5={md5}"]
    assert main([*args, f"out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: dataset=lfw_small: no local copy (/nope is absent) and LFW could not be downloaded (md5 "
                   "mismatch); give dataset.root=<a folder of <Name>/<Name>_NNNN.jpg>, e.g. an unpacked "
                   "lfw-deepfunneled.tgz")
    home = tmp_path / "cache" / "fr-eval" / "datasets" / "lfw"
    assert not home.exists() or list(home.iterdir()) == []
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv("FR_EVAL_OFFLINE", "1")
    assert main([*args[:-2], f"out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "LFW could not be downloaded (FR_EVAL_OFFLINE is set); give dataset.root=" in err
    assert len(err.splitlines()) == 1
