"""The Python API: the README's examples run as they are written, and the API gives the command's
figures."""

import numpy as np

import fr_eval



def test_plots_take_an_ax_and_leave_the_backend_alone(tmp_path):
    import matplotlib
    from matplotlib.figure import Figure

    from fr_eval.report import plot_det

    before = matplotlib.get_backend()
    rng = np.random.default_rng(0)
    scores = {"a": {"genuine": rng.normal(0.6, 0.1, 500), "impostor": rng.normal(0, 0.1, 20000)}}
    fig = Figure()
    ax = fig.subplots()
    plot_det(scores, {"system": {"name": "s"}, "dataset": {"name": "d"}}, 0.001, None, ax=ax)
    assert [line.get_label() for line in ax.get_lines()][0].startswith("scenario a (") and ax.get_xlabel().startswith("FMR (%)")
    plot_det(scores, {"system": {"name": "s"}, "dataset": {"name": "d"}}, 0.001, tmp_path / "det.png")
    assert (tmp_path / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == before


def test_api_functions_are_not_shadowed_by_modules():
    """Importing every fr_eval module must leave fr_eval.evaluate and fr_eval.audit the functions."""
    import importlib
    import pkgutil

    optional = {"torch", "tensorflow", "ray", "dlib", "playwright"}  # the extras a plain install lacks
    imported, absent = [], []
    for m in pkgutil.walk_packages(fr_eval.__path__, "fr_eval."):
        if m.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(m.name)
            imported.append(m.name)
        except ModuleNotFoundError as exc:  # a module of an optional extra (deoldify_net needs torch)
            if (exc.name or "").split(".")[0] not in optional:
                raise
            absent.append((m.name, exc.name))
    assert callable(fr_eval.evaluate) and callable(fr_eval.audit) and callable(fr_eval.scores_table)
    assert len(imported) > 60 and all(mod.startswith("fr_eval.colourisers.") for mod, _ in absent), absent
