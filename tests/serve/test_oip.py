"""The Open Inference Protocol endpoints, through Triton's own HTTP client."""

import numpy as np
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
