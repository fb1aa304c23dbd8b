#!/usr/bin/python3
"""Makes the float16-compute variant of one of our float32 ONNX models.

    /usr/bin/python3 to_fp16.py IN.onnx OUT.onnx [--float32-from softmax|last-gemm] [--emulate]

Needs Debian's python3-onnx and python3-numpy (`apt-get install python3-onnx python3-numpy`), run as
/usr/bin/python3. Written for the models tfjs_layers_to_onnx.py / tfjs_graph_to_onnx.py make, but generic
over what they contain:

- every float32 initializer becomes float16, the 256-entry tables of the compact weight storage included
  (Cast(codes) -> Gather(table) then yields float16 weights, still folded by ONNX Runtime at load);
  a value outside float16's range is an error, values that round to zero are counted and printed;
- the graph input keeps its name, float32 type and shape: one Cast float32 -> float16 follows it;
- the tail from --float32-from on (default: the last MatMul/Gemm, so the logits are not rounded to
  float16 before the softmax; `softmax` keeps only the Softmax and what follows it) stays float32, behind
  one Cast float16 -> float32; its constant inputs (weights, tables) stay float32 too; the graph output
  keeps its name, float32 type and shape;
- attributes that name the compute type follow it: Cast `to` float32, Constant `value`/`value_float(s)`,
  float entries of value_info. Ops that carry a float type elsewhere in their attributes are refused.

The same input always gives the same bytes. The output records the sha256 of the float32 file it was made
from (metadata `fp32_source_sha256`) and passes onnx.checker with full shape/type inference.

--emulate writes, instead, a *float32* model that rounds like float16 compute: the weights are rounded to
float16 values (stored as float32) and every float output of a node in the float16 part goes through
Cast float32 -> float16 -> float32. ONNX Runtime's CPU provider runs most float16 nodes of the real variant
in float32 (it inserts casts around kernels it lacks and then drops the casts between two such nodes), so
on the CPU the real variant shows mostly the weight rounding; the emulation also rounds every activation,
as float16 kernels on CUDA do (their accumulation is float32). A measurement aid, not a model to ship.
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16
SUFFIX = {FLOAT: "fp32", HALF: "fp16"}
FP16_MAX = float(np.finfo(np.float16).max)

# Ops whose attributes carry an element type or float values this tool does not rewrite: refused loudly rather
# than left producing float32 inside a float16 graph.
UNSUPPORTED = {"ConstantOfShape", "EyeLike", "RandomNormal", "RandomNormalLike", "RandomUniform",
               "RandomUniformLike", "Multinomial", "Bernoulli", "If", "Loop", "Scan"}


def float_types(model):
    """Element type of every tensor the graph names (inputs, initializers, node outputs), from strict inference."""
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    g = inferred.graph
    types = {}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    for node in g.node:
        for out in node.output:
            if out and out not in types:
                raise ValueError(f"{node.name or node.op_type}: type of output '{out}' could not be inferred")
    return types


def tail_nodes(nodes, boundary, output):
    """Indices of `boundary` and every node downstream of it; the graph output must be among their outputs."""
    tail, reached = {boundary}, set(nodes[boundary].output)
    for i in range(boundary + 1, len(nodes)):
        if any(x in reached for x in nodes[i].input):
            tail.add(i)
            reached.update(nodes[i].output)
    if output not in reached:
        raise ValueError(f"the graph output '{output}' does not depend on {nodes[boundary].name or nodes[boundary].op_type}")
    return tail


def find_boundary(nodes, mode):
    ops = ("Softmax",) if mode == "softmax" else ("MatMul", "Gemm")
    found = [i for i, n in enumerate(nodes) if n.op_type in ops]
    if not found:
        raise ValueError(f"no {'/'.join(ops)} node: nothing to keep in float32")
    return found[-1]


def precisions(graph, types, tail):
    """Compute type of every node: float32 in the tail, float16 elsewhere; constant-only nodes (the weight
    lookups) take the type their consumers need (float16 if any float16 node uses them)."""
    nodes = graph.node
    initializers = {i.name for i in graph.initializer}
    constant, constant_outputs = set(), set(initializers)
    for i, n in enumerate(nodes):
        inputs = [x for x in n.input if x]
        if (n.op_type == "Constant" or inputs) and all(x in constant_outputs for x in inputs):
            constant.add(i)
            constant_outputs.update(n.output)
    consumers = {}
    for i, n in enumerate(nodes):
        for x in n.input:
            if x:
                consumers.setdefault(x, []).append(i)
    precision = {i: (FLOAT if i in tail else HALF) for i in range(len(nodes)) if i not in constant}
    for i in sorted(constant, reverse=True):  # consumers come later in a topologically sorted graph
        users = [c for out in nodes[i].output for c in consumers.get(out, [])]
        if i in tail or (users and all(precision[c] == FLOAT for c in users)):
            precision[i] = FLOAT
        else:
            precision[i] = HALF
    return precision, consumers, constant


def float_inputs(node, types):
    """Positions of the node's inputs whose values must have the node's compute type (Cast takes anything)."""
    if node.op_type == "Cast":
        return []
    return [k for k, x in enumerate(node.input) if x and types.get(x) == FLOAT]


def convert(model, source_sha256, float32_from, emulate):
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError("only single-input, single-output models are supported")
    input_name, output_name = graph.input[0].name, graph.output[0].name
    if graph.input[0].type.tensor_type.elem_type != FLOAT or graph.output[0].type.tensor_type.elem_type != FLOAT:
        raise ValueError("the model's input and output must be float32")
    for meta in model.metadata_props:
        if meta.key == "fp32_source_sha256":
            raise ValueError("this model is already a float16 variant (it has fp32_source_sha256)")
    for n in graph.node:
        if n.op_type in UNSUPPORTED or n.domain not in ("", "ai.onnx"):
            raise ValueError(f"{n.name or n.op_type}: op {n.domain or 'ai.onnx'}.{n.op_type} is not supported")

    types = float_types(model)
    nodes = list(graph.node)
    boundary = find_boundary(nodes, float32_from)
    tail = tail_nodes(nodes, boundary, output_name)
    precision, consumers, constant = precisions(graph, types, tail)

    # Initializers: float16 when a float16 node reads them (directly or through a constant lookup).
    init_precision = {}
    for init in graph.initializer:
        if init.data_type == FLOAT:
            users = consumers.get(init.name, [])
            init_precision[init.name] = HALF if any(precision[c] == HALF for c in users) or not users else FLOAT
    stats = {"converted": 0, "values": 0, "to_zero": 0, "subnormal": 0}
    new_inits = []
    for init in graph.initializer:
        if init_precision.get(init.name) != HALF:
            new_inits.append(init)
            continue
        value = numpy_helper.to_array(init)
        if not np.all(np.isfinite(value)) or np.abs(value).max(initial=0) > FP16_MAX:
            raise ValueError(f"initializer {init.name}: values outside float16's range (max |v| {np.abs(value).max():.6g})")
        half = value.astype(np.float16)
        stats["converted"] += 1
        stats["values"] += value.size
        stats["to_zero"] += int(np.count_nonzero((half == 0) & (value != 0)))
        stats["subnormal"] += int(np.count_nonzero((half != 0) & (np.abs(half) < np.finfo(np.float16).tiny)))
        stored = half.astype(np.float32) if emulate else half
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(stored), init.name))

    # Tensor types after conversion: what each tensor is produced as.
    tensor_precision = {input_name: FLOAT}
    tensor_precision.update(init_precision)
    for i, n in enumerate(nodes):
        for out in n.output:
            if out and types.get(out) == FLOAT:
                tensor_precision[out] = precision[i]

    new_nodes, casts = [], {}

    def cast(name, to):
        key = (name, to)
        if key not in casts:
            out = f"{name}/as_{SUFFIX[to]}"
            new_nodes.append(helper.make_node("Cast", [name], [out], name=out, to=to))
            casts[key] = out
        return casts[key]

    def rounded(name):
        """--emulate: the float32 tensor, rounded to float16 values and back."""
        return cast(cast(name, HALF), FLOAT)

    renamed = {}  # --emulate: node output -> its copy rounded to float16 values
    for i, n in enumerate(nodes):
        node = onnx.NodeProto()
        node.CopyFrom(n)
        want = precision[i]
        if emulate:
            for k in range(len(node.input)):
                if node.input[k] in renamed:
                    node.input[k] = renamed[node.input[k]]
            if want == HALF:
                for k in float_inputs(n, types):
                    if node.input[k] == input_name:
                        node.input[k] = rounded(input_name)
                if n.op_type == "Constant":
                    rewrite_type_attributes(node, HALF, keep_float32=True)
        else:
            for k in float_inputs(n, types):
                if tensor_precision[n.input[k]] != want:
                    node.input[k] = cast(n.input[k], want)
            rewrite_type_attributes(node, want)
        new_nodes.append(node)
        if emulate and want == HALF and i not in constant:  # constant lookups read already-rounded tables
            for out in n.output:
                if out and types.get(out) == FLOAT:
                    renamed[out] = rounded(out)

    if not emulate and tensor_precision.get(output_name, FLOAT) != FLOAT:
        raise AssertionError("the graph output would not be float32")

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    if not emulate:
        for vi in g.value_info:
            if vi.type.tensor_type.elem_type == FLOAT and vi.name in tensor_precision:
                vi.type.tensor_type.elem_type = tensor_precision[vi.name]
    tail_start = nodes[boundary].name or nodes[boundary].op_type
    kind = "emulated float16 rounding (float32 model, measurement aid)" if emulate else "float16"
    note = (f" Compute precision: {kind}; float32 input and output, float32 from {tail_start} on "
            f"(--float32-from {float32_from}); made by tools/nsfwjs-convert/to_fp16.py.")
    out.doc_string = model.doc_string + note
    for key, value in (("precision", "fp16-emulated" if emulate else "fp16"),
                       ("float32_from", tail_start),
                       ("fp32_source_sha256", source_sha256)):
        entry = out.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(out, full_check=True)
    return out, stats, len(tail), len(casts)


def rewrite_type_attributes(node, want, keep_float32=False):
    """Attributes that state the compute type follow the node's compute type (Cast `to`, Constant values).
    keep_float32 (--emulate): Constant values are rounded to float16 values but stay float32."""
    if node.op_type == "Cast":
        for a in node.attribute:
            if a.name == "to" and a.i in (FLOAT, HALF):
                a.i = want
    elif node.op_type == "Constant" and want == HALF:
        for k, a in enumerate(node.attribute):
            if a.name == "value" and a.t.data_type == FLOAT:
                values = numpy_helper.to_array(a.t)
            elif a.name in ("value_float", "value_floats"):
                values = np.array(a.f if a.name == "value_float" else list(a.floats), dtype=np.float32)
            else:
                continue
            if not np.all(np.isfinite(values)) or np.abs(values).max(initial=0) > FP16_MAX:
                raise ValueError(f"{node.name or 'Constant'}: values outside float16's range")
            half = values.astype(np.float16)
            node.attribute[k].CopyFrom(helper.make_attribute(
                "value", numpy_helper.from_array(half.astype(np.float32) if keep_float32 else half)))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="the float32 .onnx model")
    parser.add_argument("output", help="the float16 .onnx model to write")
    parser.add_argument("--float32-from", choices=("last-gemm", "softmax"), default="last-gemm",
                        help="where the float32 tail starts (default: the last MatMul/Gemm)")
    parser.add_argument("--emulate", action="store_true",
                        help="write a float32 model that rounds weights and activations like float16 compute (measurement aid)")
    args = parser.parse_args(argv)
    with open(args.input, "rb") as f:
        data = f.read()
    model = onnx.load_from_string(data)
    result, stats, tail, casts = convert(model, hashlib.sha256(data).hexdigest(), args.float32_from, args.emulate)
    onnx.save(result, args.output)
    print(f"wrote {args.output}: {stats['converted']} initializers ({stats['values']} values) to float16 "
          f"({stats['to_zero']} rounded to 0, {stats['subnormal']} subnormal), {tail} float32 tail nodes, "
          f"{casts} casts, {os.path.getsize(args.output)} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
