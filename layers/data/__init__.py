"""Layers that bring data in: Input, HDF5Data, Data (LMDB), ImageData,
MemoryData, DummyData and the DataTransformer they share."""
