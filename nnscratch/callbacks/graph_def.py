"""The model as a TensorBoard graph: a GraphDef written by hand with tensorboardX's protos.

One node per layer (op = the layer's class, e.g. 'Dense'; inputs = the layers that feed it,
from ``model.get_config()``: a Sequential is a chain, a functional model lists each layer's
inbound layers), with the layer's output shape and parameter count as attributes. TensorBoard's
Graphs tab draws it. There is no TensorFlow graph behind nnscratch, so this is the layer graph.
"""
from __future__ import annotations


def model_graph_def(model):
    from tensorboardX.proto import attr_value_pb2, graph_pb2, node_def_pb2, versions_pb2  # optional dependency

    config = model.get_config()
    entries = config["layers"]
    graph = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=22))
    shapes = {layer.name: getattr(layer, "output_shape", None) for layer in model.layers}
    params = {layer.name: layer.count_params() for layer in model.layers}
    previous = "input"
    if "inbound" not in (entries[0] if entries else {}):  # Sequential: a chain from its input
        graph.node.add(name="input", op="Input")
    for entry in entries:
        name = entry["config"]["name"]
        inputs = entry.get("inbound", [previous])
        attr = {"output_shape": attr_value_pb2.AttrValue(s=str(shapes.get(name)).encode()),
                "params": attr_value_pb2.AttrValue(i=int(params.get(name, 0)))}
        graph.node.append(node_def_pb2.NodeDef(name=name, op=entry["class_name"], input=list(inputs), attr=attr))
        previous = name
    return graph
