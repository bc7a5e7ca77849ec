"""Fillers: how learnable blobs start, as Caffe's filler.hpp defines them.

fan_in is count / shape[0] and fan_out is count / shape[1], as in Caffe.
"""
import numpy as np

from common import sizes
from common.errors import FCNError


def _fans(shape):
    count = sizes.count(shape)
    fan_in = count // shape[0] if len(shape) > 0 and shape[0] else count
    fan_out = count // shape[1] if len(shape) > 1 and shape[1] else count
    return fan_in, fan_out


def _norm(param, shape):
    fan_in, fan_out = _fans(shape)
    norm = param.variance_norm
    if norm == param.FAN_OUT:
        return fan_out
    if norm == param.AVERAGE:
        return (fan_in + fan_out) / 2.0
    return fan_in


def bilinear_kernel(shape):
    """Caffe's bilinear filler: the upsampling kernel for a stride of ceil(k/2)."""
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise FCNError(f"bilinear filler needs square kernels, got shape {list(shape)}")
    size = shape[-1]
    factor = np.ceil(size / 2.0)
    center = (size - 1) / (2.0 * factor)
    line = 1 - np.abs(np.arange(size) / factor - center)
    return np.broadcast_to(np.outer(line, line), shape).astype(np.float32)


def _normal(rng, mean, std, shape):
    """Drawn in float32: fc6's 103M weights never pass through float64."""
    data = rng.standard_normal(shape, dtype=np.float32)
    data *= np.float32(std)
    data += np.float32(mean)
    return data


def fill(param, shape, rng):
    """A float32 array of `shape` filled as FillerParameter `param` says."""
    kind = param.type
    shape = tuple(shape)
    if kind == "constant":
        return np.full(shape, param.value, np.float32)
    if kind == "uniform":
        return rng.uniform(param.min, param.max, shape).astype(np.float32)
    if kind == "gaussian":
        data = _normal(rng, param.mean, param.std, shape)
        if param.sparse >= 0:
            if len(shape) < 1:
                raise FCNError("a sparse gaussian filler needs a blob with at least one axis")
            keep = rng.random(shape) < param.sparse / float(shape[0])
            data *= keep
        return data
    if kind == "positive_unitball":
        data = rng.uniform(0, 1, shape).astype(np.float32)
        rows = data.reshape(shape[0], -1) if shape else data.reshape(1, -1)
        rows /= rows.sum(axis=1, keepdims=True)
        return rows.reshape(shape)
    if kind == "xavier":
        scale = np.sqrt(3.0 / _norm(param, shape))
        return rng.uniform(-scale, scale, shape).astype(np.float32)
    if kind == "msra":
        return _normal(rng, 0, np.sqrt(2.0 / _norm(param, shape)), shape)
    if kind == "bilinear":
        return bilinear_kernel(shape).copy()
    raise FCNError(f"unknown filler type {kind!r}; known: constant, uniform, gaussian, "
                   "positive_unitball, xavier, msra, bilinear")
