"""caffe.Classifier: a Net that takes images (H x W x K, as
caffe.io.load_image gives them) and returns class probabilities, resized to
image_dims and classified on the centre crop, or averaged over ten crops
(corners, centre, mirrored) with oversample, as pycaffe's."""
import numpy as np

# Imported at the end of the package's __init__, once Net is defined there.
from . import TEST, Net, io


def image_transformer(net, mean, input_scale, raw_scale, channel_swap):
    """A Transformer from H x W x K images to the net's first input, with
    whichever of the settings are given."""
    name = net.inputs[0]
    transformer = io.Transformer({name: net.blobs[name].data.shape})
    transformer.set_transpose(name, (2, 0, 1))
    for value, setter in ((mean, transformer.set_mean), (input_scale, transformer.set_input_scale),
                          (raw_scale, transformer.set_raw_scale), (channel_swap, transformer.set_channel_swap)):
        if value is not None:
            setter(name, value)
    return transformer


class Classifier(Net):
    def __init__(self, model_file, pretrained_file, image_dims=None, mean=None, input_scale=None,
                 raw_scale=None, channel_swap=None):
        Net.__init__(self, model_file, pretrained_file, TEST)
        name = self.inputs[0]
        self.transformer = image_transformer(self, mean, input_scale, raw_scale, channel_swap)
        self.crop_dims = np.array(self.blobs[name].data.shape[2:])
        self.image_dims = self.crop_dims if image_dims is None else np.asarray(image_dims)

    def predict(self, inputs, oversample=True):
        """N x classes: the net's first output for each image."""
        resized = np.zeros((len(inputs), int(self.image_dims[0]), int(self.image_dims[1]), inputs[0].shape[2]),
                           np.float32)
        for i, image in enumerate(inputs):
            resized[i] = io.resize_image(image, self.image_dims)
        if oversample:
            crops = io.oversample(resized, self.crop_dims)
        else:
            y0 = int(self.image_dims[0] / 2.0 - self.crop_dims[0] / 2.0)
            x0 = int(self.image_dims[1] / 2.0 - self.crop_dims[1] / 2.0)
            crops = resized[:, y0:y0 + self.crop_dims[0], x0:x0 + self.crop_dims[1], :]
        name = self.inputs[0]
        batch = np.stack([self.transformer.preprocess(name, crop) for crop in crops])
        predictions = self.forward_all(**{name: batch})[self.outputs[0]]
        if oversample:
            predictions = predictions.reshape(len(predictions) // 10, 10, -1).mean(1)
        return predictions
