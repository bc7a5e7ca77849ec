"""Writing nets in Python, as Caffe's NetSpec: `L.Convolution(bottom, ...)`.

A layer call makes a Function (one layer) whose outputs are Tops. Assigning
Tops to a NetSpec's attributes names them; `to_proto` walks back from every
named Top, emitting each layer after the layers it reads from. Unnamed tops
and layers get Caffe's automatic names: the type and a counter
(`Convolution1`). A layer is named after its first top.
"""
from collections import Counter, OrderedDict

from common.errors import FCNError
from netspec import caffe_pb2


def _param_field_names():
    """Layer type name -> its *_param field, derived from the schema itself.

    `ConvolutionParameter` lives in `convolution_param`, so a Convolution's
    loose keyword arguments go there; Deconvolution has no message of its own
    and, as in Caffe, takes `convolution_param=` explicitly.
    """
    names = {}
    for field in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if field.name.endswith("_param") and field.message_type is not None:
            type_name = field.message_type.name[:-len("Parameter")]
            names[type_name] = field.name
    return names


PARAM_FIELDS = _param_field_names()


def assign(message, name, value, where):
    """Set field `name` of `message` from a Python value: dicts become
    messages, lists become repeated fields, and a lone value given to a
    repeated field becomes a one-item list."""
    try:
        target = getattr(message, name)
    except AttributeError:
        raise FCNError(f"{where}: {message.DESCRIPTOR.name} has no field {name!r}") from None
    repeated = hasattr(target, "extend")
    if repeated and not isinstance(value, (list, tuple)):
        value = [value]
    try:
        if repeated:
            for item in value:
                if isinstance(item, dict):
                    sub = target.add()
                    for key, val in item.items():
                        assign(sub, key, val, where)
                else:
                    target.append(item)
        elif isinstance(value, dict):
            for key, val in value.items():
                assign(target, key, val, where)
        else:
            setattr(message, name, value)
    except (TypeError, ValueError) as err:
        raise FCNError(f"{where}: {message.DESCRIPTOR.name}.{name} = {value!r}: {err}") from None


class Top:
    """One output blob of a layer."""

    def __init__(self, fn, index):
        self.fn = fn
        self.index = index

    def to_proto(self):
        return to_proto(self)


class Function:
    """One layer: its type, its input Tops and its parameters."""

    def __init__(self, type_name, inputs, params):
        self.type_name = type_name
        self.inputs = list(inputs)
        for i, item in enumerate(self.inputs):
            if not isinstance(item, Top):
                # A programming error in the script, so a TypeError, worded as pycaffe's.
                raise TypeError(f"{type_name} input {i} is not a Top (type is {type(item)})")
        self.params = dict(params)
        self.ntop = self.params.pop("ntop", 1)
        self.in_place = self.params.pop("in_place", False)
        self.tops = tuple(Top(self, i) for i in range(self.ntop))

    def _top_name(self, top, names, autonames):
        if top not in names:
            autonames[self.type_name] += 1
            names[top] = f"{self.type_name}{autonames[self.type_name]}"
        return names[top]

    def _layer_name(self, names, autonames):
        """The name of its first top, or for a layer without tops the name
        it was given in a NetSpec, else an automatic one."""
        if self.ntop > 0:
            return self._top_name(self.tops[0], names, autonames)
        if self not in names:
            autonames[self.type_name] += 1
            names[self] = f"{self.type_name}{autonames[self.type_name]}"
        return names[self]

    def emit(self, layers, names, autonames):
        """Append this layer, after every layer it depends on, to `layers`."""
        if self in layers:
            return
        for top in self.inputs:
            top.fn.emit(layers, names, autonames)
        layer = caffe_pb2.LayerParameter(type=self.type_name)
        layer.bottom.extend(layers[top.fn].top[top.index] for top in self.inputs)
        if self.in_place:
            layer.top.extend(layer.bottom)
        else:
            layer.top.extend(self._top_name(top, names, autonames) for top in self.tops)
        layer.name = self._layer_name(names, autonames)
        where = f"layer {layer.name!r} ({self.type_name})"
        own_field = PARAM_FIELDS.get(self.type_name)
        for key, value in self.params.items():
            if key.endswith("param") or own_field is None or not _has_field(getattr(layer, own_field), key):
                assign(layer, key, value, where)
            else:
                assign(getattr(layer, own_field), key, value, where)
        layers[self] = layer


def _has_field(message, name):
    return name in message.DESCRIPTOR.fields_by_name


def to_proto(*tops):
    """A NetParameter with every layer needed to compute `tops`."""
    layers, names, autonames = OrderedDict(), {}, Counter()
    for top in tops:
        top.fn.emit(layers, names, autonames)
    net = caffe_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


class NetSpec:
    """Named Tops; `to_proto` writes every layer they need, in order."""

    def __init__(self):
        super().__setattr__("tops", OrderedDict())

    def __setattr__(self, name, value):
        self.tops[name] = value

    def __getattr__(self, name):
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(name) from None

    __setitem__ = __setattr__

    def __getitem__(self, name):
        return self.tops[name]

    def keys(self):
        return list(self.tops)

    def to_proto(self):
        """Every layer its Tops (and top-less layers, such as a Silence) need."""
        names = {top: name for name, top in self.tops.items()}
        layers, autonames = OrderedDict(), Counter()
        for top in self.tops.values():
            (top if isinstance(top, Function) else top.fn).emit(layers, names, autonames)
        net = caffe_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


class _Layers:
    """`layers.Convolution(bottom, **params)` makes a Convolution layer."""

    def __getattr__(self, type_name):
        def make(*bottoms, **params):
            fn = Function(type_name, bottoms, params)
            if fn.ntop == 0:
                return fn
            return fn.tops[0] if fn.ntop == 1 else fn.tops
        return make


class _Params:
    """`params.Pooling.MAX` is the enum value PoolingParameter.MAX."""

    def __getattr__(self, type_name):
        try:
            return getattr(caffe_pb2, type_name + "Parameter")
        except AttributeError:
            raise AttributeError(f"caffe.proto has no {type_name}Parameter") from None


layers = _Layers()
params = _Params()
