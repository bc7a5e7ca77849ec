"""Python layers: `python_param { module layer param_str }`.

The published FCN data modules (voc_layers, siftflow_layers, nyud_layers,
pascalcontext_layers) resolve to this project's implementations; any other
module is imported from sys.path, and only the module the prototxt names.
The layer class may subclass our Layer or be any class with setup, reshape,
forward and backward; it reads `self.param_str` itself (with
ast.literal_eval: nothing read from a file is ever eval'd here).
"""
import importlib

from core.blob import Blob
from core.layer import Layer, register

# Published module names -> where their layers live in this project.
BUILTIN_MODULES = {
    "voc_layers": "layers.data.release.voc",
    "siftflow_layers": "layers.data.release.siftflow",
    "nyud_layers": "layers.data.release.nyud",
    "pascalcontext_layers": "layers.data.release.pascalcontext",
}



LAYER_METHODS = ("setup", "reshape", "forward", "backward")


class BlobVec(list):
    """A Python layer's learnable blobs, as pycaffe's `self.blobs`: a list of
    Blobs that `add_blob(*shape)` extends with a zero-filled one. They are
    learned, saved, loaded and shared as any layer's."""

    def __init__(self, layer_name=""):
        super().__init__()
        self.layer_name = layer_name

    def add_blob(self, *shape):
        blob = Blob(tuple(int(d) for d in shape), name=f"{self.layer_name}/{len(self)}")
        blob.data[...] = 0
        self.append(blob)
        return blob


@register("Python")
class Python(Layer):
    bottoms = (0, None)
    tops = (0, None)

    def __init__(self, param, phase, options=None, rng=None):
        super().__init__(param, phase, options, rng)
        p = param.python_param
        # Untrusted (fcn --no-python-layers): only the release's data modules,
        # which are this project's own code; a prototxt then imports nothing.
        if not self.options.trust_python_layers and p.module not in BUILTIN_MODULES:
            raise self.error(f"refusing Python layer module {p.module!r} (--no-python-layers): "
                             "only the FCN release's data modules are allowed")
        if not p.module or not p.layer:
            raise self.error("python_param needs both module and layer")
        module_name = BUILTIN_MODULES.get(p.module, p.module)
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise self.error(f"cannot import module {p.module!r}: {err}") from None
        cls = getattr(module, p.layer, None)
        if cls is None:
            raise self.error(f"module {p.module!r} has no layer class {p.layer!r}")
        if not isinstance(cls, type) or not all(callable(getattr(cls, m, None)) for m in LAYER_METHODS):
            # Never call what is not a layer class: `os.system` is callable too.
            raise self.error(f"{p.module}.{p.layer} is not a layer class (a class with "
                             f"{', '.join(LAYER_METHODS)})")
        impl = cls(param, phase, self.options, self.rng) if issubclass(cls, Layer) else cls()
        impl.param_str = p.param_str
        impl.phase = phase
        impl.name = param.name
        if not isinstance(getattr(impl, "blobs", None), list) or not impl.blobs:
            impl.blobs = BlobVec(param.name)
        self.impl = impl

    def setup(self, bottom, top):
        self.impl.setup(bottom, top)
        self.blobs = self.impl.blobs

    def reshape(self, bottom, top):
        self.impl.reshape(bottom, top)

    def forward(self, bottom, top):
        self.impl.forward(bottom, top)

    def backward(self, top, propagate_down, bottom):
        self.impl.backward(top, propagate_down, bottom)

    def rewind(self):
        """A restored solver restarts data layers (Caffe does not save their
        position): passed on to a Python layer that has a position."""
        if callable(getattr(self.impl, "rewind", None)):
            self.impl.rewind()
