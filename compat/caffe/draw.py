"""caffe.draw: a NetParameter as a Graphviz graph, through pydot (the
`draw` extra), with the boxes and labels of `fcn draw`. Rendering to an
image needs Graphviz's `dot` program."""
from common.atomic import write_atomic
from core.net import filter_net
from netspec import caffe_pb2
from tools.draw import to_dot


def _pydot():
    try:
        import pydot
    except ImportError:
        raise ImportError("caffe.draw needs pydot: pip install 'fcn-caffe[draw]'") from None
    return pydot


def get_pydot_graph(caffe_net, rankdir, label_edges=True, phase=None, display_lrm=False):
    """A pydot.Dot of the net (of its layers that `phase` includes, if given)."""
    if phase is not None:
        caffe_net = filter_net(caffe_net, caffe_pb2.NetState(phase=phase))
    (graph,) = _pydot().graph_from_dot_data(to_dot(caffe_net, {}, rankdir))
    return graph


def draw_net(caffe_net, rankdir, ext="png", phase=None, display_lrm=False):
    """The net drawn as an image in format `ext` (bytes)."""
    return get_pydot_graph(caffe_net, rankdir, phase=phase).create(format=ext)


def draw_net_to_file(caffe_net, filename, rankdir="LR", phase=None, display_lrm=False):
    """The net drawn into `filename`, in the format its extension names."""
    ext = filename.rsplit(".", 1)[-1] if "." in filename else "png"
    write_atomic(filename, draw_net(caffe_net, rankdir, ext, phase))
