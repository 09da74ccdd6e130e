"""MLflow's scoring protocol, with plain `requests` and MLflow's own `ScoringServerClient`,
and the plain JSON endpoint."""

import json
import math

import numpy as np
import pandas as pd
import requests
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

from conftest import NAME

RECORD = {
    "total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12,
    "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": 60.0,
    "support_tickets": 2, "tenure_months": 14,
}


def test_invocations_in_every_format(server):
    base = f"http://{server}"
    assert requests.get(f"{base}/ping").status_code == 200
    assert requests.get(f"{base}/health").status_code == 200
    assert requests.get(f"{base}/version").text
    columns = list(RECORD)
    bodies = [
        {"dataframe_split": {"columns": columns, "data": [[RECORD[c] for c in columns]]}},
        {"dataframe_records": [RECORD]},
        {"instances": [RECORD]},
        {"inputs": {c: [v] for c, v in RECORD.items()}},
    ]
    answers = []
    for body in bodies:
        r = requests.post(f"{base}/invocations", json=body)
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert all(a == answers[0] for a in answers)
    row = answers[0]["predictions"][0]
    assert row["label"] in ("true", "false")
    assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-4


def test_a_missing_value_as_python_writes_it(server):
    """json.dumps writes float("nan") as a bare NaN, as MLflow's client sends a missing value."""
    base = f"http://{server}"
    missing = dict(RECORD, monthly_spend=math.nan, plan=math.nan)
    body = json.dumps({"dataframe_split": {"columns": list(missing), "data": [list(missing.values())]}})
    assert "NaN" in body
    r = requests.post(f"{base}/invocations", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    nulls = dict(RECORD, monthly_spend=None, plan=None)
    assert r.json() == requests.post(f"{base}/invocations", json={"dataframe_records": [nulls]}).json()
    csv = ",".join(RECORD) + "\n" + ",".join("" if k in ("monthly_spend", "plan") else str(v) for k, v in RECORD.items())
    r = requests.post(f"{base}/invocations", data=csv, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == requests.post(f"{base}/invocations", json={"dataframe_records": [nulls]}).json()
    r = requests.post(f"{base}/invocations", data="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "text/csv" in r.json()["message"]


def test_bad_requests_answer_in_mlflow_shape(server):
    r = requests.post(f"http://{server}/invocations", json={"instances": [RECORD], "inputs": {}})
    assert r.status_code == 400
    assert r.json()["error_code"] == "BAD_REQUEST"
    r = requests.post(f"http://{server}/invocations", data="{not json")
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]


def test_predict_by_entity_key(server):
    r = requests.post(f"http://{server}/v1/models/{NAME}/predict", json={"customer_id": 17})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["label"] in ("true", "false")
    r = requests.post(f"http://{server}/v1/models/{NAME}/predict", json={"customer_id": 123456789})
    assert r.status_code == 404 and "unknown customer_id" in r.json()["error"]


def test_mlflow_scoring_client_sends_a_dataframe_with_missing_values(server):
    """MLflow's own client writes a pandas DataFrame as `dataframe_split`, a missing value as
    Python's bare NaN; the answer is what nulls get."""
    host, port = server.rsplit(":", 1)
    client = ScoringServerClient(host, int(port))
    client.ping()
    rows = [RECORD, dict(RECORD, monthly_spend=np.nan, plan=np.nan), dict(RECORD, tenure_months=40, region="south")]
    frame = pd.DataFrame(rows)
    assert frame.isna().sum().sum() == 2
    answer = client.invoke(frame)
    nulls = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
    expected = requests.post(f"http://{server}/invocations", json={"dataframe_records": nulls}).json()["predictions"]
    got = answer.get_predictions(predictions_format="dataframe")
    assert list(got["label"]) == [p["label"] for p in expected]
    for row, want in zip(got["probabilities"], expected):
        classes = sorted(want["probabilities"])
        assert np.allclose([row[c] for c in classes], [want["probabilities"][c] for c in classes], atol=1e-6)
    assert expected[0]["probabilities"] != expected[1]["probabilities"], "a missing value should change the score"
