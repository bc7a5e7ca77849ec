"""Net surgery, as the FCN release does it: transplant weights between nets
(copying, coercing by shape such as fully connected into convolution, or
dropping), bilinear interpolation kernels, and growing a score layer."""
import numpy as np

from common.errors import FCNError


def transplant(new_net, net, suffix="", log=print):
    """Copy every parameter of `net` into the layer of the same name (plus
    `suffix`) of `new_net`; same count but another shape is coerced (an
    O x I inner product into an O x I x H x W convolution); the rest is
    dropped. Each action is reported; returns them as (action, layer, index)."""
    arrays = {name: [blob.data for blob in blobs] for name, blobs in net.params.items()}
    return transplant_arrays(new_net, arrays, suffix, log)


def transplant_arrays(new_net, arrays, suffix="", log=print):
    """transplant() from {layer: [arrays]}, such as a weights file holds."""
    actions = []
    for name, blobs in arrays.items():
        target = name + suffix
        if target not in new_net.params:
            log(f"dropping {name}")
            actions.append(("drop", name, None))
            continue
        for i, array in enumerate(blobs):
            if i >= len(new_net.params[target]):
                log(f"dropping {name} {i}")
                actions.append(("drop", name, i))
                break
            into = new_net.params[target][i]
            if array.shape != into.shape:
                if array.size != into.count:
                    log(f"dropping {name} {i}: {list(array.shape)} and {list(into.shape)} hold different counts")
                    actions.append(("drop", name, i))
                    continue
                log(f"coercing {name} {i} from {list(array.shape)} to {list(into.shape)}")
                actions.append(("coerce", name, i))
            else:
                log(f"copying {name} -> {target} {i}")
                actions.append(("copy", name, i))
            into.overwrite()[...] = array.reshape(into.shape)
    return actions


def upsample_filt(size):
    """The size x size bilinear kernel that upsamples by ceil(size / 2)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid = np.ogrid[:size, :size]
    return (1 - abs(grid[0] - center) / factor) * (1 - abs(grid[1] - center) / factor)


def interp(net, layers):
    """Bilinear kernels in the named (Deconvolution) layers: channel c to
    channel c, or every channel to the single output."""
    for name in layers:
        if name not in net.params:
            raise FCNError(f"interp: the net has no layer {name!r} with parameters")
        weight = net.params[name][0].data
        if weight.ndim != 4:
            raise FCNError(f"interp: layer {name!r} has weights of shape {list(weight.shape)}, not 4-D")
        m, k, h, w = weight.shape
        if m != k and k != 1:
            raise FCNError(f"interp: layer {name!r} needs as many inputs as outputs, or one output "
                           f"(weights {list(weight.shape)})")
        if h != w:
            raise FCNError(f"interp: layer {name!r} has non-square {h}x{w} kernels")
        weight[...] = 0
        weight[np.arange(m), np.arange(k) if k == m else 0] = upsample_filt(h)


def nails(net, layers):
    """"Bed of nails" kernels in the named (grouped, one channel a group)
    Deconvolution layers: a one at each kernel's first place, zeros elsewhere."""
    for name in layers:
        weight = net.params[name][0].data
        weight[...] = 0
        weight[:, :, 0, 0] = 1


def expand_score(new_net, new_layer, net, layer):
    """Put a k-class score layer's parameters into the first k outputs of a
    layer with more classes."""
    old_w, old_b = (blob.data for blob in net.params[layer][:2])
    new_w, new_b = (blob.data for blob in new_net.params[new_layer][:2])
    k = old_w.shape[0]
    if k > new_w.shape[0] or old_w.shape[1:] != new_w.shape[1:]:
        raise FCNError(f"expand_score: {layer} {list(old_w.shape)} does not fit into "
                       f"{new_layer} {list(new_w.shape)}")
    new_w[:k] = old_w
    new_b.reshape(-1)[:k] = old_b.reshape(-1)
