"""caffe.coord_map: crop offsets from the coordinate maps between tops."""
from netspec.coord_map import compose, coord_map_from_to, crop, crop_offsets, inverse

__all__ = ["compose", "coord_map_from_to", "crop", "crop_offsets", "inverse"]
