"""numba kernels that more than one layer runs: Caffe's ReLU (the ReLU
layer, and a convolution with a ReLU fused after it) and average pooling
(Pooling, and LRN within a channel). Serial, releasing the GIL, each over
a [lo, hi) slice that one worker takes."""
import numba


@numba.njit(nogil=True, cache=True, inline="always")
def relu(v, slope):
    """Caffe's ReLU: max(v, 0) + slope * min(v, 0)."""
    return max(v, 0) + slope * min(v, 0)


@numba.njit(nogil=True, cache=True)
def relu_forward(x, slope, y, lo, hi):
    """relu over [lo, hi) (y may be x)."""
    for i in range(lo, hi):
        y[i] = relu(x[i], slope)


@numba.njit(nogil=True, cache=True)
def relu_in_place(block, slope):
    """relu over a 2-D block of a convolution's output, in place: a ReLU
    folded into the convolution before it (see Net)."""
    for r in range(block.shape[0]):
        for c in range(block.shape[1]):
            block[r, c] = relu(block[r, c], slope)


@numba.njit(nogil=True, cache=True)
def relu_backward(x, dy, slope, dx, lo, hi):
    """dx = dy where x > 0, else dy * slope, over [lo, hi); one pass, no
    temporaries (dx may be dy)."""
    for i in range(lo, hi):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * slope


@numba.njit(cache=True, inline="always")
def ave_window(o, stride, pad, kernel, size):
    """The window of output `o` clipped to the image, and its extent clipped
    to the padded image: what AVE divides by, as in Caffe."""
    start = o * stride - pad
    end = min(start + kernel, size + pad)
    return max(start, 0), min(end, size), end - start


@numba.njit(nogil=True, cache=True)
def ave_pool(x, kh, kw, sh, sw, ph, pw, out, lo, hi):
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        for y in range(oh):
            y0, y1, ey = ave_window(y, sh, ph, kh, h)
            for xo in range(ow):
                x0, x1, ex = ave_window(xo, sw, pw, kw, w)
                total = 0.0
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        total += x[i, j, yy, xx]
                out[i, j, y, xo] = total / (ey * ex)


@numba.njit(nogil=True, cache=True)
def ave_pool_backward(dy, kh, kw, sh, sw, ph, pw, dx, lo, hi):
    """Spreads each output's gradient over its window; dx starts at zero."""
    n, c, h, w = dx.shape
    oh, ow = dy.shape[2], dy.shape[3]
    for nc in range(lo, hi):
        i, j = nc // c, nc % c
        for y in range(oh):
            y0, y1, ey = ave_window(y, sh, ph, kh, h)
            for xo in range(ow):
                x0, x1, ex = ave_window(xo, sw, pw, kw, w)
                share = dy[i, j, y, xo] / (ey * ex)
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        dx[i, j, yy, xx] += share
