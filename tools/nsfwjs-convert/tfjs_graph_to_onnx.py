#!/usr/bin/python3
"""Converts a TF.js *graph* model (model.json with a TensorFlow GraphDef + binary weight shards) to ONNX.

    /usr/bin/python3 tfjs_graph_to_onnx.py MODEL_DIR OUT.onnx --labels drawing,hentai,neutral,porn,sexy [--compact]

Covers the ops of nsfwjs's mobilenet_v2_mid (TF 2.2 SavedModel through tensorflowjs_converter 1.7):
Placeholder, Const, Mul, Sub, AddV2, _FusedConv2D and FusedDepthwiseConv2dNative (BiasAdd [+ Relu/Relu6]),
AvgPool/MaxPool, Squeeze, _FusedMatMul (BiasAdd), Softmax, Identity. Anything else fails loudly.
Like tfjs_layers_to_onnx.py: NHWC float32 input with a dynamic batch, NCHW inside, weights restored exactly
as TF.js restores them (optionally stored compactly as uint8 codes + table, see WeightStore).
"""

import argparse
import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from tfjs_layers_to_onnx import OPSET, WeightStore, _conv_geometry, finish_model, load_weights, run_cli


def _attr_s(node, key, default=None):
    value = node.get("attr", {}).get(key)
    return base64.b64decode(value["s"]).decode() if value and "s" in value else default


def _attr_ints(node, key):
    value = node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])
    return [int(v) for v in value]


class GraphConverter:
    def __init__(self, model_json, store):
        self.graph_nodes = model_json["modelTopology"]["node"]
        self.store = store
        self.nodes = []
        self.initializers = []
        self.shapes = {}   # tf node name -> (C, H, W) for images, (F,) for vectors, () for scalars
        self.names = {}    # tf node name -> onnx tensor name
        self.consts = {}   # tf const name -> weight key
        self.counter = 0

    # the helper interface WeightStore.emit uses
    def const(self, name, array):
        from onnx import numpy_helper
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, hint, **attrs):
        self.counter += 1
        out = f"{hint}__{self.counter}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    @staticmethod
    def _inputs(node):
        # "^name" is a control dependency: ordering only, no data; "name:k" is output k (all ours have one).
        refs = []
        for i in node.get("input", []):
            if i.startswith("^"):
                continue
            name, _, index = i.partition(":")
            if index not in ("", "0"):
                raise ValueError(f"{node['name']}: input {i} (a second output) is not supported")
            refs.append(name)
        return refs

    def _topological(self):
        """The GraphDef's nodes, each after its data inputs (TF does not promise an order)."""
        by_name = {n["name"]: n for n in self.graph_nodes}
        done, order = set(), []
        for root in self.graph_nodes:
            stack = [(root, False)]
            while stack:
                n, expanded = stack.pop()
                if n["name"] in done:
                    continue
                if expanded:
                    done.add(n["name"])
                    order.append(n)
                    continue
                stack.append((n, True))
                stack.extend((by_name[i], False) for i in self._inputs(n) if i not in done)
        return order

    def _value(self, tf_name, transform=None):
        """An ONNX tensor for a Const node (weights come from the manifest)."""
        key = self.consts[tf_name]
        short = tf_name.split("/")[-2] + "/" + tf_name.split("/")[-1] if "/" in tf_name else tf_name
        self.counter += 1
        return self.store.emit(self, f"{short}__w{self.counter}", key, transform)

    def _fused(self, node, x, kind):
        fmt = _attr_s(node, "data_format", "NHWC")
        if fmt != "NHWC":
            raise ValueError(f"{node['name']}: data_format {fmt} is not supported")
        ops = [base64.b64decode(s).decode() for s in node["attr"].get("fused_ops", {}).get("list", {}).get("s", [])]
        if not ops or ops[0] != "BiasAdd" or any(o not in ("Relu", "Relu6") for o in ops[1:]) or len(ops) > 2:
            raise ValueError(f"{node['name']}: fused ops {ops} are not supported")
        if int(node["attr"].get("num_args", {}).get("i", "1")) != 1:
            raise ValueError(f"{node['name']}: num_args must be 1 (bias only)")
        return ops

    def _activation(self, out, ops, hint):
        if len(ops) < 2:
            return out
        if ops[1] == "Relu":
            return self.node("Relu", [out], hint + "_relu")
        lo = self.const(f"{hint}_min__{self.counter}", np.array(0.0, dtype=np.float32))
        hi = self.const(f"{hint}_max__{self.counter}", np.array(6.0, dtype=np.float32))
        return self.node("Clip", [out, lo, hi], hint + "_relu6")

    def _conv(self, node, depthwise):
        x, w, b = self._inputs(node)
        ops = self._fused(node, x, "conv")
        c, h, wd = self.shapes[x]
        shape = self.store.weights[self.consts[w]].shape  # [kh, kw, in, out|multiplier]
        kh, kw, cin, k = shape
        if cin != c:
            raise ValueError(f"{node['name']}: kernel expects {cin} channels, input has {c}")
        strides = _attr_ints(node, "strides")
        dilations = _attr_ints(node, "dilations") or [1, 1, 1, 1]
        if strides[0] != 1 or strides[3] != 1 or dilations != [1, 1, 1, 1]:
            raise ValueError(f"{node['name']}: strides {strides} / dilations {dilations} are not supported")
        padding = _attr_s(node, "padding").lower()
        if padding not in ("same", "valid"):
            raise ValueError(f"{node['name']}: padding {padding} is not supported")
        sh, sw = strides[1], strides[2]
        oh, (pt, pb) = _conv_geometry(h, kh, sh, 1, padding)
        ow, (pl, pr) = _conv_geometry(wd, kw, sw, 1, padding)
        if depthwise:
            transform = lambda a: a.transpose(2, 3, 0, 1).reshape(cin * k, 1, kh, kw)
            group, out_channels = cin, cin * k
        else:
            transform = lambda a: a.transpose(3, 2, 0, 1)
            group, out_channels = 1, k
        hint = node["name"].split("/")[-2]
        out = self.node("Conv", [self.names[x], self._value(w, transform), self._value(b)], hint,
                        kernel_shape=[kh, kw], strides=[sh, sw], pads=[pt, pl, pb, pr], group=group)
        return self._activation(out, ops, hint), (out_channels, oh, ow)

    def convert(self, labels, doc):
        for n in self.graph_nodes:
            if n["op"] == "Const":
                self.consts[n["name"]] = n["name"]
                if n["name"] not in self.store.weights:
                    raise KeyError(f"const {n['name']} has no weight in the manifest")
        output = None
        for n in self._topological():
            op, name = n["op"], n["name"]
            ins = self._inputs(n)
            if op == "Const":
                continue
            if op == "Placeholder":
                dims = [int(d["size"]) for d in n["attr"]["shape"]["shape"]["dim"]]
                if len(dims) != 4 or min(dims[1:]) < 1:
                    raise ValueError(f"input must be [N,H,W,C] with static H,W,C, got {dims}")
                _, h, w, c = dims
                self.input_info = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", h, w, c])
                self.names[name] = self.node("Transpose", ["input"], "to_nchw", perm=[0, 3, 1, 2])
                self.shapes[name] = (c, h, w)
            elif op in ("Mul", "Sub", "AddV2", "Add"):
                a, b = ins
                onnx_op = {"Mul": "Mul", "Sub": "Sub", "AddV2": "Add", "Add": "Add"}[op]
                tensors, shapes = [], []
                for i in (a, b):
                    if i in self.consts:
                        tensors.append(self._value(i))
                        shapes.append(self.store.weights[self.consts[i]].shape)
                        if shapes[-1] != ():
                            raise ValueError(f"{name}: only scalar constants are supported in {op}")
                    else:
                        tensors.append(self.names[i])
                        shapes.append(self.shapes[i])
                image_shapes = [s for s in shapes if s != ()]
                if len(set(image_shapes)) != 1:
                    raise ValueError(f"{name}: {op} of shapes {shapes} is not supported")
                self.names[name] = self.node(onnx_op, tensors, name.split("/")[-2])
                self.shapes[name] = image_shapes[0]
            elif op == "_FusedConv2D":
                self.names[name], self.shapes[name] = self._conv(n, depthwise=False)
            elif op == "FusedDepthwiseConv2dNative":
                self.names[name], self.shapes[name] = self._conv(n, depthwise=True)
            elif op in ("AvgPool", "MaxPool"):
                (x,) = ins
                if _attr_s(n, "data_format", "NHWC") != "NHWC":
                    raise ValueError(f"{name}: data_format is not supported")
                ksize, strides = _attr_ints(n, "ksize"), _attr_ints(n, "strides")
                padding = _attr_s(n, "padding").lower()
                c, h, w = self.shapes[x]
                oh, (pt, pb) = _conv_geometry(h, ksize[1], strides[1], 1, padding)
                ow, (pl, pr) = _conv_geometry(w, ksize[2], strides[2], 1, padding)
                onnx_op = "AveragePool" if op == "AvgPool" else "MaxPool"
                self.names[name] = self.node(onnx_op, [self.names[x]], "pool", kernel_shape=ksize[1:3],
                                             strides=strides[1:3], pads=[pt, pl, pb, pr])
                self.shapes[name] = (c, oh, ow)
            elif op == "Squeeze":
                (x,) = ins
                c, h, w = self.shapes[x]
                if sorted(_attr_ints(n, "squeeze_dims")) != [1, 2] or (h, w) != (1, 1):
                    raise ValueError(f"{name}: only squeezing a 1x1 spatial map is supported")
                self.names[name] = self.node("Flatten", [self.names[x]], "squeeze", axis=1)
                self.shapes[name] = (c,)
            elif op == "_FusedMatMul":
                x, w, b = ins
                ops = [base64.b64decode(s).decode() for s in n["attr"]["fused_ops"]["list"]["s"]]
                if ops != ["BiasAdd"] or n["attr"].get("transpose_a", {}).get("b") or n["attr"].get("transpose_b", {}).get("b"):
                    raise ValueError(f"{name}: fused matmul {ops} / transposes are not supported")
                units = self.store.weights[self.consts[w]].shape[1]
                self.names[name] = self.node("Gemm", [self.names[x], self._value(w), self._value(b)], "dense")
                self.shapes[name] = (units,)
            elif op == "Softmax":
                (x,) = ins
                self.names[name] = self.node("Softmax", [self.names[x]], "softmax", axis=-1)
                self.shapes[name] = self.shapes[x]
            elif op == "Identity":
                (x,) = ins
                self.names[name], self.shapes[name] = self.names[x], self.shapes[x]
                output = name
            else:
                raise ValueError(f"unsupported TF op {op} ({name})")

        if output is None or len(self.shapes[output]) != 1:
            raise ValueError("the graph must end in an Identity of a [N,classes] tensor")
        classes = self.shapes[output][0]
        if labels and len(labels) != classes:
            raise ValueError(f"{len(labels)} labels given, model has {classes} outputs")
        self.nodes.append(helper.make_node("Identity", [self.names[output]], ["probabilities"], name="probabilities"))
        unused = set(self.store.weights) - self.store.used
        if unused:
            raise ValueError(f"weights never used by the graph: {sorted(unused)[:5]}...")
        return finish_model(self.nodes, self.input_info, self.initializers, classes, labels, doc)


def main(argv):
    run_cli(argv, __doc__.split("\n\n")[0], "graph-model", GraphConverter)


if __name__ == "__main__":
    main(sys.argv[1:])
