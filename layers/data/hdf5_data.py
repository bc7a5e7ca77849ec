"""HDF5Data: rows of datasets from the .h5 files a list names."""

from common.errors import FCNError
from common.hdf5 import open_hdf5, read_checked
from core.layer import Layer, register


@register("HDF5Data")
class HDF5Data(Layer):
    """Rows of the datasets named by the tops, batch by batch, file by file,
    wrapping around at the end, as Caffe's HDF5DataLayer reads them."""
    bottoms = (0, 0)
    tops = (1, None)

    def setup(self, bottom, top):
        p = self.param.hdf5_data_param
        if not p.source:
            raise self.error("hdf5_data_param.source (a text file listing .h5 files) is required")
        try:
            with open(p.source) as f:
                self.files = [line.strip() for line in f if line.strip()]
        except OSError as err:
            raise self.error(f"cannot read source {p.source}: {err.strerror}") from None
        if not self.files:
            raise self.error(f"source {p.source} lists no HDF5 files")
        if p.batch_size <= 0:
            raise self.error("batch_size must be positive")
        self.batch_size = p.batch_size
        self.shuffle = p.shuffle
        self.file_order = list(range(len(self.files)))
        self.names = [blob.name for blob in top]
        self.current_file = 0
        self.rewind()
        for blob, array in zip(top, self.arrays):
            blob.reshape((self.batch_size,) + array.shape[1:])

    def _load(self, index):
        path = self.files[index]
        try:
            with open_hdf5(path, "an HDF5 data file") as f:
                arrays = []
                for name in self.names:
                    if name not in f:
                        raise self.error(f"{path} has no dataset {name!r}")
                    arrays.append(read_checked(path, f[name]))
        except FCNError as err:
            raise self.error(str(err)) from None
        rows = {a.shape[0] for a in arrays}
        if len(rows) != 1:
            raise self.error(f"{path}: datasets {self.names} have different row counts {sorted(rows)}")
        self.arrays = arrays
        self.rows = list(range(arrays[0].shape[0]))
        if self.shuffle:
            self.rng.shuffle(self.rows)
        self.current_row = 0

    def reshape(self, bottom, top):
        for blob, array in zip(top, self.arrays):
            blob.reshape((self.batch_size,) + array.shape[1:])

    def forward(self, bottom, top):
        for i in range(self.batch_size):
            row = self._next_row()
            for blob, array in zip(top, self.arrays):
                blob.data[i] = array[row]
        rank, ranks = self.options.shard
        for _ in range((ranks - 1) * self.batch_size):     # the other shards' batches
            self._next_row()

    def _next_row(self):
        """The next row of the one-process sequence (files in turn, round again)."""
        if self.current_row == len(self.rows):
            self.current_file += 1
            if self.current_file == len(self.files):
                self.current_file = 0
                if self.shuffle:
                    self.rng.shuffle(self.file_order)
            if len(self.files) > 1:
                self._load(self.file_order[self.current_file])
            else:
                self.current_row = 0
                if self.shuffle:
                    self.rng.shuffle(self.rows)
        row = self.rows[self.current_row]
        self.current_row += 1
        return row

    def rewind(self):
        """Back to the first row of the first file, where a restored Caffe
        starts; a shard of a data-parallel job at its own first batch."""
        self.current_file = 0
        self._load(self.file_order[0])
        for _ in range(self.options.shard[0] * self.batch_size):
            self._next_row()
