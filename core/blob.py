"""Blob: a float32 array with its gradient, shaped N-D as in Caffe.

`data` and `diff` are plain numpy arrays of the blob's shape. `diff` is made
(zero-filled) on first use, so a forward-only pass never holds gradients.
Reshaping keeps the arrays when the shape is unchanged, which is what lets a
net run image after image of one size without allocating.
"""
import sys

import numpy as np

from common import sizes
from common.errors import FCNError


class Blob:
    def __init__(self, shape: tuple[int, ...] = (), name: str = ""):
        self.name = name
        self.shape: tuple[int, ...] = ()
        self._data: np.ndarray | None = None
        self._diff: np.ndarray | None = None
        self.initializer = None
        self.allocator = None
        self.diff_allocator = None
        self.freed = False
        self.diff_dropped = False
        self.reshape(shape)

    def reshape(self, *shape):
        shape = tuple(int(d) for d in (shape[0] if len(shape) == 1 and not np.isscalar(shape[0]) else shape))
        if any(d < 0 for d in shape):
            raise FCNError(f"blob {self.name!r}: negative dimension in shape {list(shape)}")
        if shape == self.shape and self._data is not None:
            return
        # A blob larger than the machine's memory is refused before numpy is
        # asked for it: a clear error instead of the OOM killer.
        nbytes = 4 * sizes.count(shape)
        if not sizes.fits_in_memory(nbytes):
            raise FCNError(f"blob {self.name!r}: shape {list(shape)} needs {nbytes:,} bytes, more than "
                           f"this machine's {sizes.MACHINE_BYTES:,} bytes of memory")
        self.shape = shape
        self._data = None
        self._diff = None

    def reshape_like(self, other):
        self.reshape(other.shape)

    @property
    def count(self) -> int:
        return sizes.count(self.shape)

    @property
    def num_axes(self) -> int:
        return len(self.shape)

    def _legacy_axis(self, index: int) -> int:
        """Caffe's LegacyShape: axis `index` of the shape padded to 4 with leading 1s."""
        if self.num_axes > 4:
            raise FCNError(f"blob {self.name!r}: num/channels/height/width need at most 4 axes, "
                           f"not {list(self.shape)}")
        return ((1,) * (4 - self.num_axes) + self.shape)[index]

    num = property(lambda self: self._legacy_axis(0), doc="pycaffe's legacy first axis")
    channels = property(lambda self: self._legacy_axis(1), doc="pycaffe's legacy second axis")
    height = property(lambda self: self._legacy_axis(2), doc="pycaffe's legacy third axis")
    width = property(lambda self: self._legacy_axis(3), doc="pycaffe's legacy fourth axis")

    @property
    def data(self) -> np.ndarray:
        if self.freed:
            raise FCNError(f"blob {self.name!r} was freed after its last reader ran, to save memory; "
                           "build the net with keep_blobs=True to keep every blob")
        if self._data is None:
            if self.initializer:
                self._data = self.initializer()
            elif self.allocator:
                self._data = self.allocator(self.shape)
            else:
                self._data = np.zeros(self.shape, np.float32)
            self.initializer = None
        return self._data

    @data.setter
    def data(self, value):
        self._data = self._checked(value, "data")
        self.freed = False

    def overwrite(self):
        """The data array, about to be overwritten whole (weights loaded from
        a file): a pending filler never runs."""
        self.initializer = None
        self.freed = False
        if self._data is None:
            self._data = np.empty(self.shape, np.float32)
        return self._data

    def fill_with(self, make):
        """Fill on first use with `make()`: nets built only for their shapes
        (or about to load weights) never allocate their random fillers."""
        self._data = None
        self.initializer = make

    def _checked(self, value, what):
        value = np.asarray(value)
        if value.shape != self.shape:
            raise FCNError(f"blob {self.name!r}: cannot set {what} of shape {list(value.shape)} "
                           f"into shape {list(self.shape)}")
        return value if value.dtype == np.float32 else value.astype(np.float32)

    @property
    def diff(self) -> np.ndarray:
        if self.diff_dropped:
            raise FCNError(f"the diff of blob {self.name!r} was dropped once backward had passed it down, "
                           "to save memory; build the net with keep_blobs=True to keep every diff")
        if self._diff is None:
            if self.diff_allocator:
                self._diff = self.diff_allocator(self.shape)
            else:
                self._diff = np.zeros(self.shape, np.float32)
        return self._diff

    @diff.setter
    def diff(self, value):
        self._diff = self._checked(value, "diff")

    @property
    def has_diff(self):
        return self._diff is not None

    def share_data(self, other):
        """Hold the same data array as `other` (Caffe's ShareData)."""
        self.shape = other.shape
        self._data = other.data

    def share_diff(self, other):
        self._diff = other.diff

    def free(self):
        """Drop the arrays once the last reader has run; the shape stays."""
        self._data = None
        self._diff = None
        self.freed = True

    def free_diff(self):
        """Drop the diff once it has been passed down."""
        self._diff = None
        self.diff_dropped = True

    def canonical_axis(self, axis):
        n = len(self.shape)
        if not -n <= axis < max(n, 1):
            raise FCNError(f"blob {self.name!r}: axis {axis} out of range for shape {list(self.shape)}")
        return axis + n if axis < 0 else axis

    # pycaffe's legacy accessors
    def _legacy(self, index):
        if len(self.shape) > 4:
            raise FCNError(f"blob {self.name!r}: legacy accessors need at most 4 axes")
        axis = index - (4 - len(self.shape))
        return 1 if axis < 0 else self.shape[axis]

    num = property(lambda self: self._legacy(0))
    channels = property(lambda self: self._legacy(1))
    height = property(lambda self: self._legacy(2))
    width = property(lambda self: self._legacy(3))

    def __repr__(self):
        return f"Blob({self.name!r}, {list(self.shape)})"


class Arena:
    """Memory for the blobs a net frees, in regions lent out piece by piece:
    each piece is cut after the last one lent, and a region starts over once
    no array views it any more (every piece, and every view of one such as
    a Split's tops or a Reshape's, has been dropped). A TEST net thus reuses
    its memory from pass to pass instead of asking the kernel for fresh
    (page-faulted, zeroed) pages for every activation, and a small blob that
    lives long (FCN's pool3, kept for its skip) shares a region with others
    instead of holding a large one alone. A lent array holds whatever was
    there before; every layer writes all of its tops."""

    ALIGN = 16      # floats: each piece starts on a 64-byte cache line

    def __init__(self):
        self.regions = []       # [buffer, floats lent]
        probe = [np.empty(0, np.float32), 0]
        self.unviewed = sys.getrefcount(probe[0])   # this list's reference and the call's

    def take(self, shape):
        count = sizes.count(shape)
        for region in self.regions:
            if sys.getrefcount(region[0]) == self.unviewed:
                region[1] = 0
        room = [(r[0].size - r[1], i) for i, r in enumerate(self.regions) if r[0].size - r[1] >= count]
        if room:
            region = self.regions[min(room)[1]]
        else:
            # Sizes changed (a larger input): unviewed regions too small go.
            self.regions = [r for r in self.regions if r[1]]
            region = [np.empty(count, np.float32), 0]
            self.regions.append(region)
        start = region[1]
        region[1] = min(region[0].size, start + -(-count // self.ALIGN) * self.ALIGN)
        return region[0][start:start + count].reshape(shape)

    def take_zeroed(self, shape):
        """For diffs, which start at zero as Caffe's do."""
        array = self.take(shape)
        array.fill(0)
        return array
