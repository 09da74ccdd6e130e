"""What a KServe user runs: KServe's own Python ModelServer (PyPI `kserve`) with a custom
Model wrapping onnxruntime, one record per request on the v1 protocol
(`POST /v1/models/churn:predict` with `{"instances": [record]}`), label and class
probabilities back. Run:
    MODEL=model.onnx PORT=8002 python bench/serve_kserve.py
"""

import os

import numpy as np
import onnxruntime as ort
from kserve import Model, ModelServer

DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(bool)": np.bool_, "tensor(string)": object}


class Churn(Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.load()

    def load(self):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
        self.classes = self.session.get_modelmeta().custom_metadata_map["mlpc.classes"].split(",")
        self.inputs = [(i.name, DTYPES[i.type]) for i in self.session.get_inputs()]
        self.ready = True

    def predict(self, payload, headers=None):
        rows = payload["instances"]
        feed = {name: np.array([[r[name]] for r in rows], dtype=dtype) for name, dtype in self.inputs}
        labels, probabilities = self.session.run(["label", "probabilities"], feed)
        return {"predictions": [{"label": str(label), "probabilities": dict(zip(self.classes, p.tolist()))}
                                for label, p in zip(labels, probabilities)]}


if __name__ == "__main__":
    ModelServer(http_port=int(os.environ.get("PORT", "8080")), enable_grpc=False, workers=1).start([Churn("churn")])
