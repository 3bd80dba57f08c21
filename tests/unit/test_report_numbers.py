"""The report's digits, intervals and operating-point flags (fr_eval.report.numbers)."""
from fr_eval.report import numbers


def test_digits_follow_the_counts():
    assert [numbers.decimals(n) for n in (9, 90, 120, 2961, 180621, 10**9)] == [0, 1, 2, 3, 4, 4]
    assert numbers.pct(1 / 90, 90) == "1.1" and numbers.pct(25 / 2961, 2961) == "0.844" and numbers.pct(None, 5) == "n/a"


def test_rates_carry_their_interval():
    iv = {"low": 0.0, "high": 3 / 90, "method": "rule_of_3"}
    assert numbers.with_interval(0.0, iv, 90) == "0.0 [0.0, 3.3]"
    assert numbers.with_interval(0.5, {"low": float("nan"), "high": float("nan"), "method": "none"}, 90) == "50.0"


def test_unsupported_operating_points_are_named():
    assert numbers.allowed_false_matches(0.001, 2610) == 2 and not numbers.supported(0.001, 2610, 3)
    assert numbers.supported(0.001, 180621, 3) and numbers.supported(0.0001, 180621, 3)
    note = numbers.support_note([0.001, 0.01, 0.0001], 2610, 3)
    assert "FMR=0.1% allows 2, FMR=0.01% allows 0" in note and "FMR=1%" not in note
    assert numbers.support_note([0.01], 2610, 3) is None


def test_a_count_in_words_does_not_set_a_columns_digits():
    """"(8 subjects: n too small)" is a count, not a rate: it neither cuts the column to 0 decimals nor is rewritten."""
    from fr_eval.report.numbers import uniform_digits
    body = [["light", "0.41 [0.20, 0.73]"], ["tan", "2.50 (8 subjects: n too small)"], ["brown", "1.234 [0.500, 2.000]"]]
    assert uniform_digits(["Group", "FNMR (%)"], body) == [
        ["light", "0.41 [0.20, 0.73]"], ["tan", "2.50 (8 subjects: n too small)"], ["brown", "1.23 [0.50, 2.00]"]]
