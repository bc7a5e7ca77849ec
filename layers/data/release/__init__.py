"""The FCN release's data layers (voc_layers, nyud_layers, siftflow_layers,
pascalcontext_layers), reached from prototxts through Python layers."""
