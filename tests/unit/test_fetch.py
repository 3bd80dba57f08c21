"""Downloads on first use (model packs, LFW) against a local HTTP server on 127.0.0.1, never the
real hosts: a good archive, a corrupted one, a checksum mismatch, a server that is not there."""
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from fr_eval.fetch import DownloadFailed, download, fetch_archive
from fr_eval.systems import build_system



def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_arcface_named_explicitly_says_why_in_one_line(server, tmp_path):
    _, base = server
    with pytest.raises(Exception) as e:
        build_system({"name": "arcface", "pack": "buffalo_s", "root": str(tmp_path), "url": f"{base}/nope.zip"})
    assert "ArcFace pack 'buffalo_s'" in str(e.value) and "HTTP 404" in str(e.value)
    assert len(str(e.value).splitlines()) == 1


def test_download_checks_md5_and_refuses_archive_escapes(server, tmp_path):
    www, base = server
    (www / "a.txt").write_bytes(b"hello")
    got = download(f"{base}/a.txt", tmp_path / "a.txt", md5=hashlib.md5(b"hello").hexdigest(), progress=False)
    assert got.read_bytes() == b"hello"
    with pytest.raises(DownloadFailed, match="md5 .* does not match"):
        download(f"{base}/a.txt", tmp_path / "b.txt", md5="0" * 32, progress=False)
    assert not (tmp_path / "b.txt").exists() and not list(tmp_path.glob(".b.txt.*"))
    with zipfile.ZipFile(www / "evil.zip", "w") as z:
        z.writestr("../outside.txt", "x")
    with pytest.raises(DownloadFailed, match="outside its folder"):
        fetch_archive(f"{base}/evil.zip", tmp_path / "evil", sha256=sha256(www / "evil.zip"), progress=False)
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "evil").exists()
    shutil.rmtree(www)
