"""The engine's core, Caffe's net.cpp, blob.cpp and layer.hpp: the Net and
its lifecycle, Blobs, the Layer base class with its registry, fillers and
the options a net runs with. Layer types live in layers/, algorithms in
backends/."""
