"""The Triton repository `mlpc export kserve` writes, read by Triton's own `ModelConfig`
protobuf (tritonclient's model_config_pb2, protobuf text format) and checked against the
ONNX graph as onnxruntime loads it: every input and output, with its type and dims.

The repository comes from tests/export_run.rs, kept where MLPC_KSERVE_DIR says
(scripts/test sets it). Its tools are already in .venv: tritonclient[grpc] from
tests/serve/requirements.txt, onnxruntime from tests/onnx/requirements.txt."""

import os
from pathlib import Path

import onnxruntime
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

TRITON_TYPES = {
    "tensor(float)": "TYPE_FP32",
    "tensor(double)": "TYPE_FP64",
    "tensor(int64)": "TYPE_INT64",
    "tensor(int32)": "TYPE_INT32",
    "tensor(bool)": "TYPE_BOOL",
    "tensor(string)": "TYPE_STRING",
}


@pytest.fixture(scope="module")
def model():
    repo = os.environ.get("MLPC_KSERVE_DIR")
    if not repo:
        pytest.fail("set MLPC_KSERVE_DIR to where `cargo test --test export_run` kept the repository")
    folders = [p for p in Path(repo).iterdir() if p.is_dir()]
    assert folders, f"no model in {repo}"
    return folders[0]


def test_config_parses_and_matches_the_onnx_graph(model):
    config = text_format.Parse((model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    # Requests go to /v2/models/<folder>/infer: the name is the folder's.
    assert config.name == model.name
    assert config.platform == "onnxruntime_onnx"
    assert config.max_batch_size > 0
    versions = [p.name for p in model.iterdir() if p.is_dir()]
    assert versions and all(v.isdigit() for v in versions), versions
    session = onnxruntime.InferenceSession(str(model / versions[0] / "model.onnx"))
    for declared, graph in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
        assert [t.name for t in declared] == [g.name for g in graph]
        for t, g in zip(declared, graph):
            assert model_config_pb2.DataType.Name(t.data_type) == TRITON_TYPES[g.type], t.name
            # The first dimension is the batch Triton adds; a batch-only tensor is [1] reshaped to [].
            rest = [d if isinstance(d, int) else -1 for d in g.shape[1:]]
            if rest:
                assert list(t.dims) == rest, t.name
            else:
                assert list(t.dims) == [1] and t.HasField("reshape") and list(t.reshape.shape) == [], t.name
