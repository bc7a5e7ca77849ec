"""caffe.coord_map as pycaffe has it: maps as (axis, scale, offset) with
numpy arrays of floats, RuntimeError for tops no spatial path connects,
AssertionError for a crop that cannot align. The algebra is the engine's
own (netspec/coord_map.py), in exact fractions."""
import numpy as np

from common.errors import FCNError
from netspec import coord_map as _exact
from netspec.coord_map import compose, inverse  # noqa: F401  (pycaffe's names)


def _floats(cmap):
    axis, scale, offset = cmap
    return axis, np.array([float(a) for a in scale]), np.array([float(b) for b in offset])


def coord_map_from_to(top_from, top_to):
    """The map from top_from's coordinates to top_to's."""
    try:
        return _floats(_exact.coord_map_from_to(top_from, top_to))
    except FCNError as err:
        raise RuntimeError(str(err)) from None


def crop_params(top_from, top_to):
    try:
        return _exact.crop_offsets(top_from, top_to)
    except FCNError as err:
        if "no common input" in str(err):
            raise RuntimeError(str(err)) from None
        raise AssertionError(str(err)) from None


def crop(top_from, top_to):
    """A Crop layer cutting top_from to top_to's size and place."""
    from netspec.net_spec import layers as L
    axis, offsets = crop_params(top_from, top_to)
    return L.Crop(top_from, top_to, crop_param=dict(axis=axis, offset=offsets))
