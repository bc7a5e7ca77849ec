"""A Caffe NetParameter run by PyTorch (CPU), layer by layer with its
functional ops, on the same weights: the benchmarks' PyTorch peer. It
covers the layer types of the benchmarked nets (FCNs, GoogLeNet, ResNet)
with Caffe's semantics where PyTorch's defaults differ (pooling rounds up;
BatchNorm reads stored sums scaled by a factor; Crop at given offsets)."""
from __future__ import annotations

import numpy as np

from netspec import caffe_pb2
from netspec.geometry import fields_of, read_window

PP = caffe_pb2.PoolingParameter
EP = caffe_pb2.EltwiseParameter


class TorchGraph:
    def __init__(self, net_param, weights: dict[str, list[np.ndarray]], train: bool = False):
        import torch
        self.torch = torch
        self.layers = list(net_param.layer)
        self.params = {name: [torch.tensor(a, requires_grad=train) for a in arrays] for name, arrays in weights.items()}
        self.train = train

    def window(self, layer, p):
        return read_window(fields_of(p), f"layer {layer.name!r}")

    def run(self, inputs: dict[str, np.ndarray]):
        """Every top by name; with `train`, the loss too."""
        import torch.nn.functional as F
        torch = self.torch
        t = {name: torch.from_numpy(value) for name, value in inputs.items()}
        for layer in self.layers:
            kind, w = layer.type, self.params.get(layer.name)
            x = [t[b] for b in layer.bottom]
            if kind in ("Input", "Python"):
                continue
            if kind in ("Convolution", "Deconvolution"):
                c = layer.convolution_param
                g = self.window(layer, c)
                bias = w[1] if len(w) > 1 else None
                if kind == "Convolution":
                    out = F.conv2d(x[0], w[0], bias, stride=g.stride, padding=g.pad, dilation=g.dilation,
                                   groups=c.group)
                else:
                    out = F.conv_transpose2d(x[0], w[0], bias, stride=g.stride, padding=g.pad,
                                             dilation=g.dilation, groups=c.group)
            elif kind == "Pooling":
                p = layer.pooling_param
                if p.global_pooling:
                    out = x[0].amax((2, 3), keepdim=True) if p.pool == PP.MAX else x[0].mean((2, 3), keepdim=True)
                else:
                    g = self.window(layer, p)
                    if p.pool == PP.MAX:
                        out = F.max_pool2d(x[0], g.kernel, g.stride, g.pad, ceil_mode=True)
                    else:
                        out = F.avg_pool2d(x[0], g.kernel, g.stride, g.pad, ceil_mode=True)
            elif kind == "ReLU":
                slope = layer.relu_param.negative_slope
                out = F.leaky_relu(x[0], slope) if slope else F.relu(x[0])
            elif kind == "LRN":
                q = layer.lrn_param
                out = F.local_response_norm(x[0], q.local_size, q.alpha, q.beta, q.k)
            elif kind == "Crop":
                ref, p = x[1], layer.crop_param
                offsets = list(p.offset) or [0]
                axis = p.axis if p.HasField("axis") else 2
                out = x[0]
                for a in range(axis, 4):
                    off = offsets[min(a - axis, len(offsets) - 1)]
                    out = out.narrow(a, off, ref.shape[a])
            elif kind == "Eltwise":
                p = layer.eltwise_param
                if p.operation == EP.PROD:
                    out = x[0] * x[1]
                elif p.operation == EP.MAX:
                    out = torch.maximum(x[0], x[1])
                else:
                    coeff = list(p.coeff) or [1.0] * len(x)
                    out = sum(c * v for c, v in zip(coeff, x))
            elif kind == "Concat":
                out = torch.cat(x, 1)
            elif kind == "BatchNorm":
                factor = 0.0 if float(w[2][0]) == 0 else 1.0 / float(w[2][0])
                out = F.batch_norm(x[0], w[0].detach() * factor, w[1].detach() * factor, training=False,
                                   eps=layer.batch_norm_param.eps)
            elif kind == "Scale":
                out = x[0] * w[0].reshape(1, -1, 1, 1)
                if len(w) > 1:
                    out = out + w[1].reshape(1, -1, 1, 1)
            elif kind == "InnerProduct":
                out = F.linear(x[0].flatten(1), w[0], w[1] if len(w) > 1 else None)
            elif kind == "Softmax":
                out = F.softmax(x[0], 1)
            elif kind == "SoftmaxWithLoss":
                label = x[1][:, 0].long()
                out = F.cross_entropy(x[0], label, ignore_index=255, reduction="sum") / x[0].shape[0]
            elif kind == "Dropout":
                out = F.dropout(x[0], layer.dropout_param.dropout_ratio, training=self.train)
            elif kind == "Split":
                out = x[0]
            else:
                raise ValueError(f"no PyTorch translation for {kind}")
            for top in layer.top:
                t[top] = out
        return t
