"""Independent checks of mlpc's ONNX exports: each model in a folder passes
onnx.checker (full check, with shape inference), and Python onnxruntime reproduces the
predictions mlpc made in process (within 1e-5).

    MLPC_EXPORT_DIR=/tmp/exports cargo test -p mlpc-train --test exports
    python3 tests/onnx/check_exports.py /tmp/exports
"""

import json
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort


def check(path: pathlib.Path) -> None:
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    expected = json.loads(path.with_suffix(".json").read_text())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {}
    for i in session.get_inputs():
        values = expected["inputs"][i.name]
        if i.type == "tensor(string)":
            feed[i.name] = np.array(values, dtype=object).reshape(-1, 1)
        elif i.type == "tensor(bool)":
            feed[i.name] = np.array(values, dtype=bool).reshape(-1, 1)
        else:
            feed[i.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float32).reshape(-1, 1)
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, feed)))
    scores = outputs.get("probabilities", outputs.get("value"))
    got = np.asarray(scores, dtype=np.float64).reshape(-1)
    want = np.asarray(expected["scores"], dtype=np.float64)
    assert got.shape == want.shape, f"{path.name}: {got.shape} scores, expected {want.shape}"
    worst = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert worst <= 1e-5, f"{path.name}: scores differ by up to {worst}"
    if expected["labels"]:
        labels = [x.decode() if isinstance(x, bytes) else str(x) for x in outputs["label"]]
        width = expected["width"]
        probs = want.reshape(-1, width)
        top2 = np.sort(probs, axis=1)[:, ::-1]
        clear = (top2[:, 0] - top2[:, 1]) > 1e-5
        mismatched = [i for i, ok in enumerate(clear) if ok and labels[i] != expected["labels"][i]]
        assert not mismatched, f"{path.name}: labels differ in rows {mismatched[:5]}"
    print(f"ok  {path.name}: onnx.checker passed, onnxruntime {ort.__version__} within {worst:.1e}")


def main() -> int:
    folder = pathlib.Path(sys.argv[1])
    models = sorted(folder.glob("*.onnx"))
    if not models:
        print(f"no .onnx files in {folder}", file=sys.stderr)
        return 1
    for path in models:
        check(path)
    print(f"{len(models)} exports checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
