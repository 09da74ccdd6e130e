"""The Open Inference Protocol over gRPC (`mlpc serve --grpc-addr`), through Triton's gRPC
client (raw tensors; KServe's is in test_kserve.py): health, metadata, and predictions
equal to the REST `infer`'s for the same rows; the errors as gRPC statuses."""

import numpy as np
import pytest
import requests
import tritonclient.grpc as triton
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from conftest import NAME
from grpc_rows import rest_infer, rows, same_as_rest


def test_triton_grpc_client(server, grpc_server):
    client = triton.InferenceServerClient(url=grpc_server)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(NAME)
    assert client.get_server_metadata().name == "mlpc"
    meta = client.get_model_metadata(NAME)
    assert meta.name == NAME and list(meta.versions) == ["1"] and meta.platform == "onnxruntime_onnx"
    assert {o.name for o in meta.outputs} == {"label", "probabilities"}
    inputs = [(p.name, p.datatype) for p in meta.inputs]
    assert "plan" in dict(inputs)

    tensors = []
    for name, values in rows(inputs).items():
        tensor = triton.InferInput(name, [3], dict(inputs)[name])
        tensor.set_data_from_numpy(values)
        tensors.append(tensor)
    result = client.infer(NAME, tensors, request_id="grpc-1")
    response = result.get_response()
    assert response.id == "grpc-1" and response.model_version == "1"
    # Raw inputs: raw outputs, as Triton answers.
    assert len(response.raw_output_contents) == 2
    rest = rest_infer(server, inputs)
    same_as_rest(rest, "probabilities", result.as_numpy("probabilities"))
    same_as_rest(rest, "label", result.as_numpy("label"))
    assert np.allclose(result.as_numpy("probabilities").sum(axis=1), 1.0, atol=1e-4)
    # Not every row the same: the comparison above compares predictions, not a constant.
    assert len({tuple(p) for p in result.as_numpy("probabilities")}) > 1

    only = client.infer(NAME, tensors, outputs=[triton.InferRequestedOutput("label")])
    assert [o.name for o in only.get_response().outputs] == ["label"]

    with pytest.raises(InferenceServerException) as e:
        client.infer("no-such-model", tensors)
    assert e.value.status() == "StatusCode.NOT_FOUND"
    assert "no model `no-such-model` is served here" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata(NAME, model_version="7")
    assert e.value.status() == "StatusCode.NOT_FOUND"

    bad = []
    for name, values in rows(inputs).items():
        tensor = triton.InferInput(name, [2, 2] if name == "plan" else [3], dict(inputs)[name])
        tensor.set_data_from_numpy(values[:2].repeat(2).reshape(2, 2) if name == "plan" else values)
        bad.append(tensor)
    with pytest.raises(InferenceServerException) as e:
        client.infer(NAME, bad)
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "input `plan` has shape [2, 2]; one column is [N] or [N, 1]" in e.value.message()

    number = next(n for n, dt in inputs if dt == "FP32")
    for values, code, says in [
        (np.zeros(10_001, np.float32), "INVALID_ARGUMENT", "the request has 10001 rows; this server takes at most 10000"),
        (np.zeros(1_100_000, np.float32), "OUT_OF_RANGE", "the limit is: 4194304 bytes"),
    ]:
        tensor = triton.InferInput(number, [len(values)], "FP32")
        tensor.set_data_from_numpy(values)
        with pytest.raises(InferenceServerException) as e:
            client.infer(NAME, [tensor])
        assert e.value.status() == f"StatusCode.{code}" and says in e.value.message(), e.value
    client.close()


def test_grpc_requests_are_counted_like_rest(server, grpc_server):
    """A gRPC request counts in the same metrics as a REST one (the same code path)."""

    def requests_total():
        text = requests.get(f"http://{server}/metrics", headers={"Accept": "text/plain"}, timeout=10).text
        samples = (s for f in text_string_to_metric_families(text) for s in f.samples)
        return sum(s.value for s in samples if s.name == "mlpc_serve_requests_total" and s.labels["model"] == NAME)

    client = triton.InferenceServerClient(url=grpc_server)
    inputs = [(p.name, p.datatype) for p in client.get_model_metadata(NAME).inputs]
    tensors = []
    for name, values in rows(inputs).items():
        tensor = triton.InferInput(name, [3], dict(inputs)[name])
        tensor.set_data_from_numpy(values)
        tensors.append(tensor)
    before = requests_total()
    client.infer(NAME, tensors)
    assert requests_total() == before + 1
    client.close()
