"""KServe's own clients against `mlpc serve`: the REST client (`kserve.InferenceRESTClient`)
in JSON and with binary tensor data, and the gRPC client (`kserve.InferenceGRPCClient`)
against --grpc-addr; predictions equal to the REST `infer`'s for the same rows. Run by
test_kserve.py in an interpreter of its own: KServe's and Triton's generated modules both
declare the `inference.*` messages, in differently named files, and one protobuf
descriptor pool refuses the second. Usage: kserve_clients.py HTTP_ADDR GRPC_ADDR."""

import asyncio
import sys

import grpc
import pytest
import requests
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub

from conftest import NAME
from grpc_rows import rest_infer, rows, same_as_rest


async def rest_calls(server):
    """JSON, then binary tensor data for inputs and outputs."""
    meta = requests.get(f"http://{server}/v2/models/{NAME}", timeout=30).json()
    inputs = [(p["name"], p["datatype"]) for p in meta["inputs"]]
    rest = rest_infer(server, inputs)
    for binary in (False, True):
        tensors = []
        for name, values in rows(inputs).items():
            tensor = InferInput(name, [3], dict(inputs)[name])
            tensor.set_data_from_numpy(values, binary_data=binary)
            tensors.append(tensor)
        outputs = [RequestedOutput(n, {"binary_data": binary}) for n in ("label", "probabilities")]
        request = InferRequest(NAME, tensors, request_id=f"rest-{binary}", request_outputs=outputs)
        headers = {}
        async with InferenceRESTClient(RESTConfig(protocol="v2")) as client:
            response = await client.infer(f"http://{server}", request, model_name=NAME, response_headers=headers)
        assert response.id == f"rest-{binary}" and response.model_name == NAME
        assert ("inference-header-content-length" in headers) == binary, headers
        answered = {o.name: o for o in response.outputs}
        same_as_rest(rest, "probabilities", answered["probabilities"].as_numpy())
        same_as_rest(rest, "label", answered["label"].as_numpy())


async def grpc_calls(server, grpc_server):
    async with InferenceGRPCClient(grpc_server, retries=0) as client:
        assert await client.is_server_live()
        assert await client.is_server_ready()
        assert await client.is_model_ready(NAME)
        # KServe's client has no metadata call: its generated stub asks.
        async with grpc.aio.insecure_channel(grpc_server) as channel:
            stub = GRPCInferenceServiceStub(channel)
            assert (await stub.ServerMetadata(pb.ServerMetadataRequest())).name == "mlpc"
            meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name=NAME))
        assert list(meta.versions) == ["1"]
        inputs = [(p.name, p.datatype) for p in meta.inputs]
        rest = rest_infer(server, inputs)

        for raw in (False, True):
            tensors = []
            for name, values in rows(inputs).items():
                datatype = dict(inputs)[name]
                if raw:
                    tensor = InferInput(name, [3], datatype)
                    tensor.set_data_from_numpy(values, binary_data=True)
                else:
                    tensor = InferInput(name, [3], datatype, data=values.tolist())
                tensors.append(tensor)
            response = await client.infer(InferRequest(NAME, tensors, request_id=f"kserve-{raw}"))
            assert response.id == f"kserve-{raw}"
            answered = {o.name: o for o in response.outputs}
            same_as_rest(rest, "probabilities", answered["probabilities"].as_numpy())
            same_as_rest(rest, "label", answered["label"].as_numpy())

        with pytest.raises(grpc.aio.AioRpcError) as e:
            await client.infer(InferRequest("no-such-model", tensors))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await client.is_model_ready("no-such-model")
        assert e.value.code() == grpc.StatusCode.NOT_FOUND

        # Three values sent for a shape of two.
        bad = [InferInput(n, [2] if n == "plan" else [3], dt, data=rows(inputs)[n].tolist()) for n, dt in inputs]
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await client.infer(InferRequest(NAME, bad))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "input `plan`: its shape [2] holds 2 values, but 3 were sent" in e.value.details()


if __name__ == "__main__":
    asyncio.run(rest_calls(sys.argv[1]))
    asyncio.run(grpc_calls(sys.argv[1], sys.argv[2]))
    print("kserve: all checks passed")
