"""The second outside probe (issue 24), kept as tests: the same face under two names, bad score and
embedding files, replays that change system, folders that are not data, and inputs that used to end
in a traceback. Each case gives the right figures or one clear line, never a silently wrong figure."""

import pytest



def test_api_bad_key_is_a_config_error():
    import fr_eval
    from fr_eval.errors import ConfigError
    with pytest.raises(ConfigError, match=r"^unknown key 'bogus'; valid keys: scenario"):
        fr_eval.evaluate(bogus=1)


def test_ctrl_c_stops_an_in_process_caller(monkeypatch, capsys):
    """main() lets the KeyboardInterrupt through (pytest, a notebook stop); the command says it in one line."""
    import fr_eval.cli as cli

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_and_report", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["scenario=1"])
    monkeypatch.setattr(cli.sys, "argv", ["fr-eval", "scenario=1"])
    assert cli.entry() == 130
    assert "interrupted: everything acquired so far is kept in the store" in capsys.readouterr().err
