"""Net surgery in pycaffe's terms: bilinear kernels and weight transplants,
written the way the release's surgery.py works on net.params."""
from weights.surgery import upsample_filt


def interp(net, layers):
    for name in layers:
        m, k, h, w = net.params[name][0].data.shape
        assert m == k or k == 1, "input and output channels must match"
        assert h == w, "filters must be square"
        net.params[name][0].data[range(m), range(k), :, :] = upsample_filt(h)


def transplant(new_net, net):
    for p in net.params:
        if p not in new_net.params:
            print("dropping", p)
            continue
        for i in range(len(net.params[p])):
            if net.params[p][i].data.shape != new_net.params[p][i].data.shape:
                print("coercing", p, i)
            new_net.params[p][i].data.flat = net.params[p][i].data.flat
