"""caffe.Detector: a Net scoring windows of images (R-CNN style), each
window cropped (with context padding if configured), warped to the input
size and classified, as pycaffe's detect_windows. Selective search, which
pycaffe runs through an external MATLAB tool, is not offered."""
import numpy as np

# Imported at the end of the package's __init__, once Net is defined there.
from . import TEST, Net, io
from .classifier import image_transformer


class Detector(Net):
    def __init__(self, model_file, pretrained_file, mean=None, input_scale=None, raw_scale=None,
                 channel_swap=None, context_pad=None):
        Net.__init__(self, model_file, pretrained_file, TEST)
        self.transformer = image_transformer(self, mean, input_scale, raw_scale, channel_swap)
        self.configure_crop(context_pad)

    def detect_windows(self, images_windows):
        """[(image file, windows as (ymin, xmin, ymax, xmax) rows)] -> a
        list of {'window', 'prediction', 'filename'}, in order."""
        name = self.inputs[0]
        crops, where = [], []
        for filename, windows in images_windows:
            image = io.load_image(filename).astype(np.float32)
            for window in windows:
                crops.append(self.crop(image, window))
                where.append((filename, window))
        batch = np.stack([self.transformer.preprocess(name, crop) for crop in crops])
        scores = self.forward_all(**{name: batch})[self.outputs[0]]
        predictions = scores[:, :, 0, 0] if scores.ndim == 4 else scores
        return [{"window": window, "prediction": predictions[i], "filename": filename}
                for i, (filename, window) in enumerate(where)]

    def detect_selective_search(self, image_fnames):
        raise NotImplementedError("selective search needs pycaffe's external MATLAB tool; "
                                  "give windows to detect_windows instead")

    def crop(self, im, window):
        """The window of `im` warped to the input's size; with context_pad,
        the window grows by that many pixels at the input's scale first, the
        part outside the image filled with the mean (or 0)."""
        window = np.array(window, dtype=float)
        crop = im[int(window[0]):int(window[2]), int(window[1]):int(window[3])]
        if self.context_pad:
            box = window.copy()
            size = self.blobs[self.inputs[0]].data.shape[2]
            scale = size / (size - 2.0 * self.context_pad)
            half = (box[2:] - box[:2]) / 2.0
            center = box[:2] + half
            box = np.concatenate([center - half * scale, center + half * scale]).round().astype(int)
            height, width = im.shape[:2]
            clipped = np.array([max(0, box[0]), max(0, box[1]), min(height, box[2]), min(width, box[3])])
            out_size = np.array([size, size])
            full = (box[2:] - box[:2]).astype(float)
            scale_y, scale_x = out_size / full
            crop = im[clipped[0]:clipped[2], clipped[1]:clipped[3]]
            warped_h = int(round((clipped[2] - clipped[0]) * scale_y))
            warped_w = int(round((clipped[3] - clipped[1]) * scale_x))
            top = int(round((clipped[0] - box[0]) * scale_y))
            left = int(round((clipped[1] - box[1]) * scale_x))
            padded = np.empty((size, size, im.shape[2]), np.float32)
            padded[...] = self.crop_mean if self.crop_mean is not None else 0
            if warped_h > 0 and warped_w > 0:
                warped = io.resize_image(crop, (warped_h, warped_w))
                h, w = min(warped_h, size - top), min(warped_w, size - left)
                padded[top:top + h, left:left + w] = warped[:h, :w]
            return padded
        return crop

    def configure_crop(self, context_pad):
        """Context padding, and the mean (in image layout) that fills it."""
        self.context_pad = context_pad
        self.crop_mean = None
        name = self.inputs[0]
        if context_pad and name in self.transformer.mean:
            mean = self.transformer.mean[name]
            raw = self.transformer.raw_scale.get(name, 1)
            order = np.argsort(self.transformer.channel_swap.get(name, range(mean.shape[0])))
            self.crop_mean = (mean[order] / raw).transpose(np.argsort(self.transformer.transpose[name]))
