

from fr_eval.datasets import load_dataset
from fr_eval.engine import acquire_all
from fr_eval.store import Store
from fr_eval.variants import GREYSCALE, ORIGINAL

from conftest import FakeSystem


KILL_SCRIPT = r"""
import sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeSystem
from fr_eval.datasets import load_dataset
from fr_eval.engine import acquire_all
from fr_eval.store import Store
from fr_eval.variants import ORIGINAL, GREYSCALE

class Slow(FakeSystem):
    def acquire(self, images):
        time.sleep(0.05)
        return super().acquire(images)

ds = load_dataset({{"type": "folder", "root": {root!r}}})
reqs = [(s, v) for v in (ORIGINAL, GREYSCALE) for s in ds.references + ds.probes]
acquire_all(reqs * 1, Slow(), Store({store!r}), batch_size=1, progress=False)
print("finished", flush=True)
"""


def test_store_survives_sigkill(tree, tmp_path):
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    store_dir = tmp_path / "store"
    script = KILL_SCRIPT.format(tests=str(__import__("pathlib").Path(__file__).resolve().parents[1]), root=str(tree),
                                store=str(store_dir))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    db = store_dir / "store.sqlite"
    while time.time() < deadline:  # wait until some batches are committed, then kill -9
        time.sleep(0.1)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    if c.execute("SELECT COUNT(*) FROM acquisitions").fetchone()[0] >= 5:
                        break
            except sqlite3.OperationalError:
                continue
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    store = Store(store_dir)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = store.count()
    ds = load_dataset({"type": "folder", "root": str(tree)})
    reqs = [(s, v) for v in (ORIGINAL, GREYSCALE) for s in ds.references + ds.probes]
    sys2 = FakeSystem()
    _, st = acquire_all(reqs, sys2, store, batch_size=4, progress=False)
    assert 5 <= kept < len(reqs)
    assert st.reused == kept and st.computed == len(reqs) - kept
    store.close()
