#!/usr/bin/python3
"""Converts a TF.js Keras *layers* model (model.json + binary weight shards) to an ONNX model.

Needs Debian's python3-onnx and python3-numpy (`apt-get install python3-onnx python3-numpy`) and must
run with /usr/bin/python3 (a pyenv `python3` on PATH does not see apt modules).

    /usr/bin/python3 tfjs_layers_to_onnx.py MODEL_DIR OUT.onnx --labels drawing,hentai,neutral,porn,sexy

The ONNX model takes NHWC float32 [N,H,W,C] (dynamic N), exactly what the Keras model takes, and
transposes to NCHW inside the graph. Weights are restored as TF.js restores them: a uint8/uint16
quantised value q becomes fround(q * scale + min), computed in double, so the ONNX weights are
bit-identical to the ones TF.js runs with.

Supported Keras layers (Keras 2.x configs as written by tensorflowjs_converter): InputLayer, Conv2D,
DepthwiseConv2D, ZeroPadding2D, BatchNormalization, ReLU, Activation, Add, Concatenate,
AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout.
That covers nsfwjs's mobilenet_v2 and inception_v3. Anything else fails loudly.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13

# ---------------------------------------------------------------------------------------------- weights

_PLAIN_DTYPES = {"float32": "<f4", "int32": "<i4"}
_QUANT_DTYPES = {"uint8": ("<u1", 1), "uint16": ("<u2", 2), "float16": ("<f2", 2)}


def load_weights(model_dir, manifest):
    """Reads every weight of the manifest, in manifest order, from the concatenated shards.

    Returns (weights, codes): the float32 values TF.js computes, and for uint8-quantised tensors the raw
    codes with their scale and min, so a compact model can store the codes and rebuild the same floats."""
    weights = {}
    codes = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(model_dir, p + ".bin"), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = tuple(spec["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            quant = spec.get("quantization")
            if quant is None:
                fmt = _PLAIN_DTYPES[spec["dtype"]]
                size = count * np.dtype(fmt).itemsize
                values = np.frombuffer(blob, dtype=fmt, count=count, offset=offset)
            else:
                fmt, width = _QUANT_DTYPES[quant["dtype"]]
                size = count * width
                raw = np.frombuffer(blob, dtype=fmt, count=count, offset=offset)
                if quant["dtype"] == "float16":
                    values = raw.astype(np.float32)
                else:
                    # TF.js: Float32Array[i] = q * scale + min  (double arithmetic, one rounding to float32)
                    values = (raw.astype(np.float64) * float(quant["scale"]) + float(quant["min"])).astype(np.float32)
                    if quant["dtype"] == "uint8":
                        codes[spec["name"]] = (raw.reshape(shape).copy(), float(quant["scale"]), float(quant["min"]))
            if spec["dtype"] == "float32":
                values = values.astype(np.float32, copy=False)
            weights[spec["name"]] = values.reshape(shape).copy()
            offset += size
        if offset != len(blob):
            raise ValueError(f"weight group {group['paths']} has {len(blob)} bytes, manifest describes {offset}")
    return weights, codes


class WeightStore:
    """Emits weights as ONNX initializers, either as float32 or (compact) as the original uint8 codes plus a
    256-entry float32 table per tensor: Cast(codes -> int32) -> Gather(table). The table holds exactly
    fround(q * scale + min) computed in double, as TF.js computes it, so the rebuilt weights are bit-identical
    to the float32 ones; ONNX Runtime folds the Cast/Gather into plain float initializers when it loads the
    model (all inputs are constant), so inference runs the same float graph. A tensor costs 1 byte per
    value + 1 KiB instead of 4 bytes per value."""

    def __init__(self, weights, codes, compact):
        self.weights = weights
        self.codes = codes if compact else {}
        self.used = set()

    def emit(self, graph, name, key, transform=None):
        transform = transform or (lambda a: a)
        self.used.add(key)
        value = np.ascontiguousarray(transform(self.weights[key]))
        code = self.codes.get(key)
        if code is None or value.size < 1024:  # small tensors: float32 is about as small as codes + table
            return graph.const(name, value)
        raw, scale, minimum = code
        q = np.ascontiguousarray(transform(raw))
        table = (np.arange(256, dtype=np.float64) * scale + minimum).astype(np.float32)
        if not np.array_equal(table[q], value):
            raise AssertionError(f"{key}: table lookup does not reproduce the dequantised weights")
        graph.const(name + "/codes", q)
        graph.const(name + "/table", table)
        index = graph.node("Cast", [name + "/codes"], name + "/index", to=TensorProto.INT32)
        graph.nodes.append(helper.make_node("Gather", [name + "/table", index], [name], name=name, axis=0))
        return name


# ------------------------------------------------------------------------------------------------ graph


class Tensor:
    """A Keras tensor in the ONNX graph. 4-D tensors are kept NCHW; shape excludes the batch."""

    def __init__(self, name, shape):
        self.name = name
        self.shape = tuple(shape)  # (C, H, W) for images, (F,) for vectors

    @property
    def is_image(self):
        return len(self.shape) == 3


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_geometry(size, kernel, stride, dilation, padding):
    """Output size and (before, after) padding of one spatial axis, as TensorFlow computes them."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (size - effective) // stride + 1, (0, 0)
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
        return out, (total // 2, total - total // 2)
    raise ValueError(f"unsupported padding '{padding}'")


class Converter:
    def __init__(self, model_json, store):
        self.topology = model_json["modelTopology"]
        config = self.topology["model_config"]
        if config["class_name"] not in ("Model", "Functional", "Sequential"):
            raise ValueError(f"unsupported model class {config['class_name']}")
        if config["class_name"] == "Sequential":
            raise ValueError("Sequential models are not supported yet (only functional Keras models)")
        self.config = config["config"]
        self.store = store
        self.weights = store.weights
        self.used_weights = store.used
        self.nodes = []
        self.initializers = []
        self.tensors = {}  # keras layer name -> Tensor
        self.counter = 0

    # -- helpers
    def fresh(self, hint):
        self.counter += 1
        return f"{hint}__{self.counter}"

    def weight(self, layer, name, required=True):
        key = f"{layer}/{name}"
        if key not in self.weights:
            if required:
                raise KeyError(f"weight {key} missing")
            return None
        self.used_weights.add(key)
        return self.weights[key]

    def const(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, hint, **attrs):
        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def activation(self, x, activation, hint):
        if activation in (None, "linear"):
            return x
        if activation == "relu":
            return self.node("Relu", [x], hint + "_relu")
        if activation == "relu6":
            return self.clip(x, 0.0, 6.0, hint)
        if activation == "sigmoid":
            return self.node("Sigmoid", [x], hint + "_sigmoid")
        if activation == "tanh":
            return self.node("Tanh", [x], hint + "_tanh")
        if activation == "softmax":
            return self.node("Softmax", [x], hint + "_softmax", axis=-1)
        raise ValueError(f"unsupported activation '{activation}'")

    def clip(self, x, lo, hi, hint):
        lo_name = self.const(self.fresh(hint + "_min"), np.array(lo, dtype=np.float32))
        hi_name = self.const(self.fresh(hint + "_max"), np.array(hi, dtype=np.float32))
        return self.node("Clip", [x, lo_name, hi_name], hint + "_clip")

    # -- layers
    def layer_InputLayer(self, layer, inputs):
        shape = layer["config"]["batch_input_shape"]
        if len(shape) != 4 or None in shape[1:]:
            raise ValueError(f"input must be [N,H,W,C] with static H,W,C, got {shape}")
        _, h, w, c = shape
        self.input_info = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", h, w, c])
        nchw = self.node("Transpose", ["input"], "to_nchw", perm=[0, 3, 1, 2])
        return Tensor(nchw, (c, h, w))

    def layer_ZeroPadding2D(self, layer, inputs):
        (x,) = inputs
        pad = layer["config"]["padding"]
        if isinstance(pad, int):
            pad = [[pad, pad], [pad, pad]]
        (top, bottom), (left, right) = [_pair(p) for p in pad]
        pads = self.const(self.fresh(layer["name"] + "_pads"), np.array([0, 0, top, left, 0, 0, bottom, right], dtype=np.int64))
        out = self.node("Pad", [x.name, pads], layer["name"], mode="constant")
        c, h, w = x.shape
        return Tensor(out, (c, h + top + bottom, w + left + right))

    def _conv(self, layer, x, kernel_key, transform, group, out_channels):
        cfg = layer["config"]
        kh, kw = _pair(cfg["kernel_size"])
        sh, sw = _pair(cfg["strides"])
        dh, dw = _pair(cfg.get("dilation_rate", 1))
        c, h, w = x.shape
        oh, (pt, pb) = _conv_geometry(h, kh, sh, dh, cfg["padding"])
        ow, (pl, pr) = _conv_geometry(w, kw, sw, dw, cfg["padding"])
        inputs = [x.name, self.store.emit(self, layer["name"] + "/W", kernel_key, transform)]
        if cfg.get("use_bias", True):
            self.weight(layer["name"], "bias")
            inputs.append(self.store.emit(self, layer["name"] + "/B", f"{layer['name']}/bias"))
        out = self.node("Conv", inputs, layer["name"], kernel_shape=[kh, kw], strides=[sh, sw],
                        dilations=[dh, dw], pads=[pt, pl, pb, pr], group=group)
        out = self.activation(out, cfg.get("activation"), layer["name"])
        return Tensor(out, (out_channels, oh, ow))

    def layer_Conv2D(self, layer, inputs):
        (x,) = inputs
        self._channels_last(layer)
        kernel = self.weight(layer["name"], "kernel")  # [kh, kw, in, out]
        if kernel.shape[2] != x.shape[0]:
            raise ValueError(f"{layer['name']}: kernel expects {kernel.shape[2]} channels, input has {x.shape[0]}")
        return self._conv(layer, x, f"{layer['name']}/kernel", lambda a: a.transpose(3, 2, 0, 1), 1, kernel.shape[3])

    def layer_DepthwiseConv2D(self, layer, inputs):
        (x,) = inputs
        self._channels_last(layer)
        kernel = self.weight(layer["name"], "depthwise_kernel")  # [kh, kw, in, multiplier]
        kh, kw, cin, mult = kernel.shape
        # TensorFlow's output channel i*mult+m comes from input channel i and kernel [:, :, i, m].
        oihw = lambda a: a.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
        return self._conv(layer, x, f"{layer['name']}/depthwise_kernel", oihw, cin, cin * mult)

    def layer_BatchNormalization(self, layer, inputs):
        (x,) = inputs
        cfg = layer["config"]
        axis = cfg.get("axis", -1)
        if isinstance(axis, list):
            (axis,) = axis
        if x.is_image and axis not in (-1, 3):
            raise ValueError(f"{layer['name']}: only channel-axis batch normalisation is supported (axis={axis})")
        if not x.is_image and axis not in (-1, 1):
            raise ValueError(f"{layer['name']}: unsupported axis {axis}")
        name = layer["name"]
        mean = self.weight(name, "moving_mean")
        var = self.weight(name, "moving_variance")
        gamma = self.weight(name, "gamma") if cfg.get("scale", True) else np.ones_like(mean)
        beta = self.weight(name, "beta") if cfg.get("center", True) else np.zeros_like(mean)
        ins = [x.name] + [self.const(f"{name}/{k}", v) for k, v in
                          (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
        out = self.node("BatchNormalization", ins, name, epsilon=float(cfg.get("epsilon", 1e-3)))
        return Tensor(out, x.shape)

    def layer_ReLU(self, layer, inputs):
        (x,) = inputs
        cfg = layer["config"]
        if cfg.get("negative_slope", 0) not in (0, None) or cfg.get("threshold", 0) not in (0, None):
            raise ValueError(f"{layer['name']}: leaky/thresholded ReLU is not supported")
        max_value = cfg.get("max_value")
        if max_value is None:
            return Tensor(self.node("Relu", [x.name], layer["name"]), x.shape)
        return Tensor(self.clip(x.name, 0.0, float(max_value), layer["name"]), x.shape)

    def layer_Activation(self, layer, inputs):
        (x,) = inputs
        return Tensor(self.activation(x.name, layer["config"]["activation"], layer["name"]), x.shape)

    def layer_Add(self, layer, inputs):
        if len({t.shape for t in inputs}) != 1:
            raise ValueError(f"{layer['name']}: Add of different shapes {[t.shape for t in inputs]}")
        acc = inputs[0].name
        for t in inputs[1:]:
            acc = self.node("Add", [acc, t.name], layer["name"])
        return Tensor(acc, inputs[0].shape)

    def layer_Concatenate(self, layer, inputs):
        axis = layer["config"].get("axis", -1)
        rank = len(inputs[0].shape) + 1
        if axis < 0:
            axis += rank
        if inputs[0].is_image:
            if axis != 3:
                raise ValueError(f"{layer['name']}: only channel concatenation is supported")
            c = sum(t.shape[0] for t in inputs)
            _, h, w = inputs[0].shape
            return Tensor(self.node("Concat", [t.name for t in inputs], layer["name"], axis=1), (c, h, w))
        return Tensor(self.node("Concat", [t.name for t in inputs], layer["name"], axis=axis),
                      (sum(t.shape[0] for t in inputs),))

    def _pool(self, layer, inputs, op):
        (x,) = inputs
        cfg = layer["config"]
        self._channels_last(layer)
        kh, kw = _pair(cfg["pool_size"])
        sh, sw = _pair(cfg.get("strides") or cfg["pool_size"])
        c, h, w = x.shape
        oh, (pt, pb) = _conv_geometry(h, kh, sh, 1, cfg["padding"])
        ow, (pl, pr) = _conv_geometry(w, kw, sw, 1, cfg["padding"])
        # TensorFlow averages over the in-bounds window only: count_include_pad=0 (ONNX default).
        out = self.node(op, [x.name], layer["name"], kernel_shape=[kh, kw], strides=[sh, sw], pads=[pt, pl, pb, pr])
        return Tensor(out, (c, oh, ow))

    def layer_AveragePooling2D(self, layer, inputs):
        return self._pool(layer, inputs, "AveragePool")

    def layer_MaxPooling2D(self, layer, inputs):
        return self._pool(layer, inputs, "MaxPool")

    def _global_pool(self, layer, inputs, op):
        (x,) = inputs
        self._channels_last(layer)
        pooled = self.node(op, [x.name], layer["name"])
        return Tensor(self.node("Flatten", [pooled], layer["name"] + "_flat", axis=1), (x.shape[0],))

    def layer_GlobalAveragePooling2D(self, layer, inputs):
        return self._global_pool(layer, inputs, "GlobalAveragePool")

    def layer_GlobalMaxPooling2D(self, layer, inputs):
        return self._global_pool(layer, inputs, "GlobalMaxPool")

    def layer_Flatten(self, layer, inputs):
        (x,) = inputs
        if not x.is_image:
            return x
        # Keras flattens channels-last: go back to NHWC first so feature order matches the Dense weights.
        nhwc = self.node("Transpose", [x.name], layer["name"] + "_nhwc", perm=[0, 2, 3, 1])
        return Tensor(self.node("Flatten", [nhwc], layer["name"], axis=1), (int(np.prod(x.shape)),))

    def layer_Dense(self, layer, inputs):
        (x,) = inputs
        if x.is_image:
            raise ValueError(f"{layer['name']}: Dense on a 4-D tensor is not supported")
        cfg = layer["config"]
        kernel = self.weight(layer["name"], "kernel")  # [in, units]
        ins = [x.name, self.store.emit(self, layer["name"] + "/W", f"{layer['name']}/kernel")]
        if cfg.get("use_bias", True):
            self.weight(layer["name"], "bias")
            ins.append(self.store.emit(self, layer["name"] + "/B", f"{layer['name']}/bias"))
        out = self.node("Gemm", ins, layer["name"])
        out = self.activation(out, cfg.get("activation"), layer["name"])
        return Tensor(out, (kernel.shape[1],))

    def layer_Dropout(self, layer, inputs):
        (x,) = inputs
        return x  # inference: identity

    @staticmethod
    def _channels_last(layer):
        fmt = layer["config"].get("data_format", "channels_last")
        if fmt != "channels_last":
            raise ValueError(f"{layer['name']}: data_format {fmt} is not supported")

    # -- driver
    def convert(self, labels, doc):
        if len(self.config["input_layers"]) != 1 or len(self.config["output_layers"]) != 1:
            raise ValueError("only single-input, single-output models are supported")
        for layer in self.config["layers"]:
            nodes = layer.get("inbound_nodes", [])
            if len(nodes) > 1:
                raise ValueError(f"{layer['name']}: shared layers are not supported")
            inputs = []
            for inbound in (nodes[0] if nodes else []):
                src, node_index, tensor_index = inbound[0], inbound[1], inbound[2]
                if node_index != 0 or tensor_index != 0:
                    raise ValueError(f"{layer['name']}: multi-output inbound {inbound} is not supported")
                inputs.append(self.tensors[src])
            handler = getattr(self, "layer_" + layer["class_name"], None)
            if handler is None:
                raise ValueError(f"unsupported Keras layer {layer['class_name']} ({layer['name']})")
            self.tensors[layer["name"]] = handler(layer, inputs)

        out_layer = self.config["output_layers"][0][0]
        result = self.tensors[out_layer]
        if result.is_image:
            raise ValueError("image-shaped model outputs are not supported")
        if labels and len(labels) != result.shape[0]:
            raise ValueError(f"{len(labels)} labels given, model has {result.shape[0]} outputs")
        self.nodes.append(helper.make_node("Identity", [result.name], ["probabilities"], name="probabilities"))

        unused = set(self.weights) - self.used_weights
        if unused:
            raise ValueError(f"weights never used by the graph: {sorted(unused)[:5]}...")

        return finish_model(self.nodes, self.input_info, self.initializers, result.shape[0], labels, doc)


def finish_model(nodes, input_info, initializers, classes, labels, doc):
    """The ONNX model around a converted graph: the `probabilities` output [N, classes], opset, metadata, checked."""
    graph = helper.make_graph(
        nodes, "nsfwjs", [input_info],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        initializers)
    model = helper.make_model(graph, producer_name="nsfwjs-convert", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)], doc_string=doc)
    model.ir_version = 7  # readable by every ONNX Runtime since 1.6
    meta = {"input_layout": "NHWC float32 in [0,1]", "labels": ",".join(labels or [])}
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    return model


def run_cli(argv, description, expected_format, converter_class):
    """The command line both converters share: model folder in, .onnx out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("model_dir", help="folder with model.json and the .bin weight shards")
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--labels", default="", help="comma-separated class names, in output order")
    parser.add_argument("--doc", default="", help="doc_string stored in the model")
    parser.add_argument("--compact", action="store_true",
                        help="store uint8-quantised weights as their codes + a lookup table (bit-identical weights, ~4x smaller file)")
    args = parser.parse_args(argv)
    with open(os.path.join(args.model_dir, "model.json")) as f:
        model_json = json.load(f)
    found = model_json.get("format")
    if found != expected_format and not (found is None and expected_format == "layers-model"):  # old layers files omit it
        raise SystemExit(f"{args.model_dir}: format {model_json.get('format')} is not a {expected_format}")
    weights, codes = load_weights(args.model_dir, model_json["weightsManifest"])
    labels = [s for s in args.labels.split(",") if s]
    model = converter_class(model_json, WeightStore(weights, codes, args.compact)).convert(labels, args.doc)
    onnx.save(model, args.output)
    print(f"wrote {args.output}: {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, "
          f"{os.path.getsize(args.output)} bytes")


def main(argv):
    run_cli(argv, __doc__.split("\n\n")[0], "layers-model", Converter)


if __name__ == "__main__":
    main(sys.argv[1:])
