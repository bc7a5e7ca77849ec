"""The arena that lends freed blobs' memory: pieces of regions, a region
starting over only once nothing views it."""
import numpy as np

from core.blob import Arena


def test_pieces_share_a_region_until_every_view_is_dropped():
    arena = Arena()
    first = arena.take((4, 100))
    second = arena.take((30,))
    assert not np.may_share_memory(first, second)
    # One region too small for both: the second gets a region of its own.
    assert len(arena.regions) == 2
    first[...] = 1
    kept_view = first.reshape(-1)[:10]          # a Reshape's or Split's view
    del first
    third = arena.take((50,))                   # the region is still viewed: a new one
    assert len(arena.regions) == 3 and not np.may_share_memory(third, kept_view)
    assert (kept_view == 1).all()
    del kept_view
    again = arena.take((4, 100))                # nothing views the first region any more
    assert len(arena.regions) == 3 and np.shares_memory(again, arena.regions[0][0])


def test_a_larger_input_lets_unviewed_small_regions_go():
    arena = Arena()
    small = arena.take((10,))
    del small
    big = arena.take((1000,))
    assert [region[0].size for region in arena.regions] == [1000]
    assert big.shape == (1000,)


def test_pieces_start_on_cache_lines_and_diffs_start_at_zero():
    arena = Arena()
    arena.regions.append([np.empty(1000, np.float32), 0])
    a = arena.take((3,))
    b = arena.take((5,))
    assert (b.__array_interface__["data"][0] - a.__array_interface__["data"][0]) == 16 * 4
    b[...] = 7
    del b
    zeroed = arena.take_zeroed((5,))
    assert (zeroed == 0).all()
