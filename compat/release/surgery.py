"""The release's surgery.py: transplant, upsample_filt, interp and
expand_score, printing what transplant does as the release prints it."""
import numpy as np

from weights.surgery import expand_score, interp, upsample_filt  # noqa: F401  (the release's names)


def transplant(new_net, net, suffix=""):
    """Copy matching parameters, coerce those of another shape but the same
    count (fully connected into convolution), drop the rest."""
    for name in net.params:
        target = name + suffix
        if target not in new_net.params:
            print("dropping", name)
            continue
        for i, blob in enumerate(net.params[name]):
            if i > len(new_net.params[target]) - 1:
                print("dropping", name, i)
                break
            into = new_net.params[target][i]
            if blob.data.shape != into.data.shape:
                print("coercing", name, i, "from", blob.data.shape, "to", into.data.shape)
            else:
                print("copying", name, " -> ", target, i)
            into.data.flat = np.asarray(blob.data).flat
