import pytest

from fr_eval.colourisers import build_colouriser
from fr_eval.errors import ConfigError


def test_unknown_colouriser_names_choices():
    with pytest.raises(ConfigError, match="choose from exemplar, precomputed"):
        build_colouriser("deoldify", {"exemplar": {"type": "exemplar"}, "precomputed": {"type": "precomputed"}})
