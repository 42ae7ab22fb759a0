#!/usr/bin/python3
"""Writes ONNX's own node conformance tests (model.onnx + test_data_set_*/ *.pb)
from python3-onnx's generators into OUT_DIR, as `backend-test-tools
generate-data` would. onnx 1.12's generators still use np.float/np.object,
which numpy 1.24 removed: restore those aliases first.

    /usr/bin/python3 tests/conformance/generate.py OUT_DIR
"""
import os
import sys

import numpy as np

np.float = float
np.object = object

from onnx import numpy_helper  # noqa: E402
import onnx.backend.test.case.node as node_test  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
count = 0
for case in node_test.collect_testcases(None):
    d = os.path.join(out, case.name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(d, f"test_data_set_{i}")
        os.makedirs(ds, exist_ok=True)
        for kind, values, infos in (("input", inputs, case.model.graph.input), ("output", outputs, case.model.graph.output)):
            for j, v in enumerate(values):
                if not infos[j].type.HasField("tensor_type"):
                    continue  # sequences/maps/optionals: no op normrt claims uses them
                with open(os.path.join(ds, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(np.asarray(v), infos[j].name).SerializeToString())
    count += 1
print(f"{count} node tests written to {out}")
