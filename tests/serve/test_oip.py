"""The Open Inference Protocol endpoints, through Triton's own HTTP client, in JSON and
with binary tensor data (`Inference-Header-Content-Length`); KServe's clients are in
test_kserve.py."""

import json
import math
import struct

import numpy as np
import requests
import tritonclient.http as triton

from conftest import NAME

TYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "BOOL": np.bool_, "BYTES": np.object_}
SAMPLE = {"plan": "basic", "region": "north"}


def test_triton_client_health_metadata_and_infer(server):
    client = triton.InferenceServerClient(url=server)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(NAME)
    assert client.get_server_metadata()["name"] == "mlpc"
    meta = client.get_model_metadata(NAME)
    assert meta["versions"] == ["1"]
    assert client.get_model_config(NAME)["backend"] == "onnxruntime"

    inputs = []
    for port in meta["inputs"]:
        kind = TYPES[port["datatype"]]
        values = [SAMPLE.get(port["name"], "x")] * 3 if kind is np.object_ else [1.0, 5.0, 9.0]
        data = np.array(values, dtype=kind).reshape(3, 1)
        tensor = triton.InferInput(port["name"], list(data.shape), port["datatype"])
        tensor.set_data_from_numpy(data, binary_data=False)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput(n, binary_data=False) for n in ("label", "probabilities")]
    result = client.infer(NAME, inputs, outputs=outputs, request_id="py-1")
    assert result.get_response()["id"] == "py-1"
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert [l.decode() if isinstance(l, bytes) else l for l in result.as_numpy("label")] != []
    stats = client.get_inference_statistics(NAME)
    assert stats["model_stats"][0]["inference_stats"]["success"]["count"] >= 1


# Four rows of varied values, one column per model input: floats as whole numbers (the
# `int` inputs take only those), categories from the training data.
CATEGORIES = {"plan": ["basic", "premium", "basic", "standard"], "region": ["north", "south", "east", "west"]}


def columns(meta):
    """Each input of the model's metadata as a (4, 1) array of its datatype."""
    out = {}
    for j, port in enumerate(meta["inputs"]):
        kind = TYPES[port["datatype"]]
        if kind is np.object_:
            values = CATEGORIES.get(port["name"], ["x"] * 4)
        else:
            values = [float(3 * r + j + 1) * (r + 1) for r in range(4)]
        out[port["name"]] = (port["datatype"], np.array(values, dtype=kind).reshape(4, 1))
    return out


def triton_infer(client, data, binary, **kwargs):
    inputs = []
    for name, (datatype, array) in data.items():
        tensor = triton.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    return client.infer(NAME, inputs, outputs=outputs, **kwargs)


def labels(array):
    return [l.decode() if isinstance(l, bytes) else l for l in array.reshape(-1)]


def test_triton_binary_tensors_predict_what_json_predicts(server):
    client = triton.InferenceServerClient(url=server)
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    data = columns(client.get_model_metadata(NAME))
    by_json = triton_infer(client, data, binary=False)
    by_binary = triton_infer(client, data, binary=True, model_version="1")
    for output in by_binary.get_response()["outputs"]:
        assert "data" not in output and output["parameters"]["binary_data_size"] > 0, output
    assert by_binary.as_numpy("probabilities").shape == (4, 2)
    assert np.allclose(by_binary.as_numpy("probabilities"), by_json.as_numpy("probabilities"), atol=1e-6)
    assert len(set(np.round(by_json.as_numpy("probabilities")[:, 0], 6))) > 1, "the rows should score differently"
    assert labels(by_binary.as_numpy("label")) == labels(by_json.as_numpy("label"))
    assert set(labels(by_json.as_numpy("label"))) <= {"true", "false"}

    # No outputs named: Triton's client asks for every output in binary (`binary_data_output`).
    inputs = []
    for name, (datatype, array) in data.items():
        tensor = triton.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    every = client.infer(NAME, inputs)
    assert all("binary_data_size" in o["parameters"] for o in every.get_response()["outputs"])
    assert np.allclose(every.as_numpy("probabilities"), by_json.as_numpy("probabilities"), atol=1e-6)


def test_a_nan_in_a_binary_float_tensor_is_a_missing_value(server):
    client = triton.InferenceServerClient(url=server)
    data = columns(client.get_model_metadata(NAME))
    datatype, spend = data["monthly_spend"]
    spend[1, 0] = np.nan
    by_binary = triton_infer(client, data, binary=True)
    as_json = {name: (dt, a.reshape(-1).tolist()) for name, (dt, a) in data.items()}
    as_json["monthly_spend"] = (datatype, [None if np.isnan(x) else float(x) for x in spend.reshape(-1)])
    body = {"inputs": [{"name": n, "datatype": dt, "shape": [4, 1], "data": v} for n, (dt, v) in as_json.items()]}
    r = requests.post(f"http://{server}/v2/models/{NAME}/infer", json=body)
    assert r.status_code == 200, r.text
    by_json = {o["name"]: o["data"] for o in r.json()["outputs"]}
    assert np.allclose(by_binary.as_numpy("probabilities").reshape(-1), by_json["probabilities"], atol=1e-6)


def post_framed(server, header, data, length=None):
    head = json.dumps(header).encode()
    return requests.post(
        f"http://{server}/v2/models/{NAME}/infer",
        data=head + data,
        headers={"Inference-Header-Content-Length": str(len(head) if length is None else length)},
    )


def test_hostile_framings_are_400s_in_the_protocols_shape(server):
    def one(datatype, size):
        tensor = {"name": "monthly_spend", "datatype": datatype, "shape": [1, 1]}
        return {"inputs": [dict(tensor, parameters={"binary_data_size": size})]}

    for header, data, length, says in [
        ({}, b"", 999, "is 999 bytes, but the body has only 2"),
        ({}, b"", "12abc", "must be a number of bytes"),
        (one("FP32", 4), b"\0" * 6, None, "add up to 4 bytes, but 6 bytes follow"),
        (one("FP32", 2), b"\0" * 2, None, "4 bytes in binary, but `binary_data_size` is 2"),
        (one("BF16", 2), b"\0" * 2, None, "binary data of datatype BF16 is not taken"),
        (one("FP32", 4), struct.pack("<f", math.inf), None, "an infinity is not a value"),
    ]:
        r = post_framed(server, header, data, length)
        assert r.status_code == 400, (says, r.text)
        assert says in r.json()["error"], r.json()
