"""MemoryData: batches from arrays handed over by the caller (pycaffe's
Net.set_input_arrays), in order and round again, untransformed, as
Caffe's MemoryDataLayer::Reset serves them. Tops: data (N x C x H x W),
label (N,)."""
import numpy as np

from core.layer import Layer, register


@register("MemoryData")
class MemoryData(Layer):
    bottoms = (0, 0)
    tops = (2, 2)

    def setup(self, bottom, top):
        p = self.param.memory_data_param
        self.batch_size = p.batch_size
        self.shape = (p.batch_size, p.channels, p.height, p.width)
        if min(self.shape) <= 0:
            raise self.error("batch_size, channels, height and width must be given and positive")
        self.data = self.labels = None
        self.position = 0
        self.reshape(bottom, top)

    def reset(self, data, labels):
        """Serve `data` (n x C x H x W) and `labels` (n) from the start; n a
        multiple of the batch size."""
        data, labels = np.asarray(data), np.asarray(labels)
        if data.ndim != 4 or data.shape[1:] != self.shape[1:]:
            raise self.error(f"data of shape {list(data.shape)}; this layer takes n x {list(self.shape[1:])}")
        if labels.size != data.shape[0]:
            raise self.error(f"{labels.size} labels for {data.shape[0]} images")
        if data.shape[0] == 0 or data.shape[0] % self.batch_size:
            raise self.error(f"{data.shape[0]} images: a multiple of the batch size {self.batch_size} is needed")
        self.data = data.astype(np.float32)
        self.labels = labels.reshape(-1).astype(np.float32)
        self.position = 0

    def reshape(self, bottom, top):
        top[0].reshape(self.shape)
        top[1].reshape((self.batch_size,))

    def forward(self, bottom, top):
        if self.data is None:
            raise self.error("no data: hand it arrays first (pycaffe: net.set_input_arrays(data, labels))")
        end = self.position + self.batch_size
        top[0].data[...] = self.data[self.position:end]
        top[1].data[...] = self.labels[self.position:end]
        self.position = end % self.data.shape[0]
