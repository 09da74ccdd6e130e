"""Rows for the gRPC tests (test_grpc.py, kserve_grpc.py), and the REST `infer` answer
they are compared with."""

import numpy as np
import requests

from conftest import NAME

# Three rows, different in every numeric input (so that predictions differ between rows).
NUMBERS = [1.0, 5.0, 9.0]
CATEGORIES = {"plan": ["basic", "premium", "basic"], "region": ["north", "south", "west"]}
KINDS = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "BOOL": np.bool_, "BYTES": np.object_}


def rows(inputs):
    """Each model input (name, datatype) as a column of three values, as numpy."""
    columns = {}
    for name, datatype in inputs:
        values = CATEGORIES.get(name, ["x", "y", "z"]) if datatype == "BYTES" else NUMBERS
        columns[name] = np.array(values, dtype=KINDS[datatype])
    return columns


def rest_infer(server, inputs):
    """The REST `infer` answer for the same rows: {output name: (shape, data)}."""
    tensors = [
        {"name": n, "datatype": dt, "shape": [3], "data": rows(inputs)[n].tolist()} for n, dt in inputs
    ]
    reply = requests.post(f"http://{server}/v2/models/{NAME}/infer", json={"inputs": tensors}, timeout=30)
    assert reply.status_code == 200, reply.text
    return {o["name"]: (o["shape"], o["data"]) for o in reply.json()["outputs"]}


def same_as_rest(rest, name, values):
    """A gRPC output equal to REST's: labels as text, probabilities to the float32 bit."""
    shape, data = rest[name]
    assert list(values.shape) == shape
    if values.dtype == np.object_:
        got = [v.decode() if isinstance(v, bytes) else v for v in values.reshape(-1)]
        assert got == data
    else:
        assert np.array_equal(values.reshape(-1), np.array(data, dtype=np.float32))
