"""The engine: blobs, the layer registry, every layer type and the Net."""
