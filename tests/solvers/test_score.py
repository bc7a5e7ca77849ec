import numpy as np
import pytest

from solvers.score import fast_hist, metrics


def test_fast_hist_by_hand():
    truth = np.array([[0, 1, 2], [2, 255, 1]])
    prediction = np.array([[0, 2, 2], [1, 0, 1]])
    expected = np.zeros((3, 3), int)
    for t, p in [(0, 0), (1, 2), (2, 2), (2, 1), (1, 1)]:
        expected[t, p] += 1
    np.testing.assert_array_equal(fast_hist(truth, prediction, 3), expected)


def test_metrics_on_a_hand_made_histogram():
    hist = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    m = metrics(hist)
    assert m["overall accuracy"] == pytest.approx(8 / 11)
    assert m["mean accuracy"] == pytest.approx((5 / 6 + 3 / 5) / 2)          # class 2 absent: NaN, skipped
    iu0, iu1 = 5 / (6 + 7 - 5), 3 / (5 + 4 - 3)
    assert m["mean IU"] == pytest.approx((iu0 + iu1) / 2)
    assert m["fwavacc"] == pytest.approx(6 / 11 * iu0 + 5 / 11 * iu1)


def test_perfect_and_chance():
    assert metrics(np.diag([3, 4, 5]))["mean IU"] == 1
    assert metrics(np.full((4, 4), 10))["mean IU"] == pytest.approx(10 / 70)
