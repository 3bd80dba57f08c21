"""benchmarks/bench_export.py: every format timed, and the text the fast writers write is the text a plain
row-by-row writer writes (the sha256 the script prints against one computed here)."""
import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_bench_export_prints_each_writer_and_the_plain_writers_text():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_export.py"), "--rows", "3000"],
                         capture_output=True, text=True, check=True).stdout
    lines = {d["format"]: d for d in map(json.loads, out.strip().splitlines())}
    assert list(lines) == ["csv.gz", "parquet", "bob4", "bob5", "pyeer"]
    assert all(d["rows"] == 3000 and d["seconds"] > 0 and d["us_per_row"] > 0 for d in lines.values())
    from bench_export import table

    from fr_eval.scores import COLUMNS, csv_cell
    t = table(3000)
    kind = np.where(t.genuine, "genuine", "impostor")
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in zip(t.row, kind, t.reference, t.probe, t.reference_subject, t.probe_subject, t.score):
        w.writerow([csv_cell(str(x)) for x in r[:6]] + [repr(float(r[6]))])
    assert lines["csv.gz"]["sha256_of_text"] == hashlib.sha256(buf.getvalue().encode()).hexdigest()
    bob4 = "".join(f"{rs} {ps} {p} {float(s)!r}\n" for rs, ps, p, s in
                   zip(t.reference_subject, t.probe_subject, t.probe, t.score))
    assert lines["bob4"]["sha256_of_text"] == hashlib.sha256(bob4.encode()).hexdigest()
    pyeer = "".join("%.17g\n" % s for s in t.score[t.genuine]) + "".join("%.17g\n" % s for s in t.score[~t.genuine])
    assert lines["pyeer"]["sha256_of_text"] == hashlib.sha256(pyeer.encode()).hexdigest()
