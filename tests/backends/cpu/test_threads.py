import threading

import pytest

from backends.cpu.threads import Workers


@pytest.mark.parametrize("count,most,least", [(10, 3, 1), (32, 10, 1), (7, 100, 1), (7, 100, 2),
                                              (1, 1, 2), (1000, 17, 1), (5, 1, 1)])
def test_even_split_covers_everything_in_even_pieces(count, most, least):
    workers = Workers.of(2)
    ranges = workers.even_split(count, most, least)
    assert [i for a, b in ranges for i in range(a, b)] == list(range(count))
    sizes = [b - a for a, b in ranges]
    assert max(sizes) <= max(most, 1) and max(sizes) - min(sizes) <= 1
    assert len(ranges) >= min(count, least)
    if 1 < len(ranges) < count:
        assert len(ranges) % workers.count == 0


def test_parallel_runs_every_item_and_raises_the_first_error():
    seen, lock = [], threading.Lock()

    def work(item):
        with lock:
            seen.append(item)
        if item == 3:
            raise ValueError("item 3")
    with pytest.raises(ValueError, match="item 3"):
        Workers.of(2).parallel(work, range(6))
    assert sorted(seen) == list(range(6))


def test_a_worker_may_not_hand_out_work():
    """A worker waiting on its own pool would never return: refused."""
    workers = Workers.of(2)
    errors = []

    def nested(item):
        try:
            workers.parallel(lambda _: None, range(2))
        except RuntimeError as err:
            errors.append(str(err))
    workers.parallel(nested, range(2))
    assert len(errors) == 2 and "called from a worker" in errors[0]
