"""The usual Python pattern for serving an ONNX model: FastAPI + onnxruntime, one record
per request, label and class probabilities back. Run under uvicorn:
    MODEL=model.onnx uvicorn serve_fastapi:app --app-dir bench --port 8001
"""

import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI

options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
classes = session.get_modelmeta().custom_metadata_map["mlpc.classes"].split(",")
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(bool)": np.bool_, "tensor(string)": object}
inputs = [(i.name, DTYPES[i.type]) for i in session.get_inputs()]
app = FastAPI()


@app.post("/predict")
def predict(record: dict):
    feed = {name: np.array([[record[name]]], dtype=dtype) for name, dtype in inputs}
    labels, probabilities = session.run(["label", "probabilities"], feed)
    return {"predictions": [{"label": str(labels[0]),
                             "probabilities": dict(zip(classes, probabilities[0].tolist()))}]}
