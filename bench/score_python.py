"""Batch scoring the way a Python job does it: pandas reads the rows, onnxruntime scores
them in batches of 65,536 (as mlpc score does), pandas writes keys, model, version and
predictions to Parquet. The peer of `mlpc score` in bench/score.sh.

Usage: score_python.py MODEL.onnx INPUT.parquet OUTPUT.parquet NAME VERSION
"""

import sys

import numpy as np
import onnxruntime as ort
import pandas as pd

BATCH = 65_536


def main(model, input_path, output_path, name, version):
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    classes = meta["mlpc.classes"].split(",")
    rows = pd.read_parquet(input_path)
    feeds = {}
    for i in session.get_inputs():
        column = rows[i.name]
        if i.type == "tensor(string)":
            feeds[i.name] = column.fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[i.name] = column.to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1)
    parts = []
    for start in range(0, len(rows), BATCH):
        batch = {k: v[start : start + BATCH] for k, v in feeds.items()}
        parts.append(session.run(["probabilities"], batch)[0])
    probabilities = np.concatenate(parts)
    out = rows[["customer_id", "event_timestamp"]].copy()
    out["model"] = name
    out["model_version"] = version
    out["label"] = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    for k, c in enumerate(classes):
        out[f"probability_{c}"] = probabilities[:, k]
    out.to_parquet(output_path, index=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
