"""ONNX Runtime's own single-row inference time, in process (Python API, one thread):
the floor that HTTP serving overhead is measured against. Prints `p50_us p99_us`."""

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort

options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
record = json.loads(sys.argv[2])
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(bool)": np.bool_, "tensor(string)": object}
feed = {i.name: np.array([[record[i.name]]], dtype=DTYPES[i.type]) for i in session.get_inputs()}
for _ in range(1000):
    session.run(None, feed)
times = []
for _ in range(int(os.environ.get("N", "20000"))):
    t = time.perf_counter_ns()
    session.run(None, feed)
    times.append(time.perf_counter_ns() - t)
times.sort()
print(f"{times[len(times) // 2] / 1000:.1f} {times[len(times) * 99 // 100] / 1000:.1f}")
