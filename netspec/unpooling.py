"""The talk's three unpoolings beside deconvolution, as NetSpec layers:

- nearest neighbour: a Deconvolution whose kernel (factor x factor, one per
  channel) is all ones and never learns;
- "bed of nails": the same with a single one at the kernel's first place,
  each value put at the top-left of its block, zeros elsewhere (its kernel
  is set by `weights.surgery.nails`, as `interp` sets bilinear ones);
- max-unpooling: Upsample from a MAX Pooling's mask (`max_pool` gives both
  tops), back to the size of the pooling's input.
"""
from netspec.net_spec import layers as L
from netspec.net_spec import params as P

FIXED = [dict(lr_mult=0, decay_mult=0)]


def nearest(bottom, channels, factor):
    return L.Deconvolution(bottom, param=FIXED, convolution_param=dict(
        num_output=channels, group=channels, kernel_size=factor, stride=factor, bias_term=False,
        weight_filler=dict(type="constant", value=1)))


def bed_of_nails(bottom, channels, factor):
    return L.Deconvolution(bottom, param=FIXED, convolution_param=dict(
        num_output=channels, group=channels, kernel_size=factor, stride=factor, bias_term=False,
        weight_filler=dict(type="constant", value=0)))


def max_pool(bottom, kernel=2, stride=2):
    """(pooled, mask) of a MAX Pooling."""
    return L.Pooling(bottom, pool=P.Pooling.MAX, kernel_size=kernel, stride=stride, ntop=2)


def max_unpool(values, mask, reference):
    """Each value back where its window's maximum was, at `reference`'s size."""
    return L.Upsample(values, mask, reference)
