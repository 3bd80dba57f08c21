"""The typed configuration: each default defined once (fr_eval.settings), the same in every way in."""

import pytest

from fr_eval.systems import build_system


def test_partial_system_node_is_completed_and_checked():
    system, _ = build_system({"name": "sface"})
    d = system.describe()["settings"]
    assert d["det_thresh"] == 0.9 and d["nms_thresh"] == 0.3 and d["retry_scales"] == [0.5]
    with pytest.raises(Exception, match="system.det_thresh=2 is not valid: give a number between 0 and 1"):
        build_system({"name": "sface", "det_thresh": 2})
