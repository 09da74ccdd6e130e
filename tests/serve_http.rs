//! `mlpc serve` over real HTTP on a loopback port: the Open Inference Protocol, MLflow
//! scoring and plain JSON answer; every class of bad input is a 4xx naming the problem; a
//! stage change under concurrent requests fails none; a tampered artifact is refused.

mod common;

use common::load::Load;
use common::mlpc;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NAME: &str = "churn-predictor";

/// The churn example trained with a fast learner in a temporary folder.
struct Pipeline {
    dir: tempfile::TempDir,
}

impl Pipeline {
    fn new(algorithm: &str) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let p = Pipeline { dir };
        p.write(algorithm);
        p
    }
    fn write(&self, algorithm: &str) {
        let text = std::fs::read_to_string("examples/churn/churn.mlp")
            .unwrap()
            .replace("gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)", algorithm)
            .replace("  cv     = 5\n", "");
        // A stage change swaps at once here; canaries have their own tests (serve_canary.rs).
        let start = text.find("  canary {").expect("the example has a canary");
        let end = start + text[start..].find("  }\n").expect("the canary block ends") + 4;
        let text = format!("{}{}", &text[..start], &text[end..]);
        std::fs::write(self.file(), text).unwrap();
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("churn.mlp")
    }
    fn state(&self) -> String {
        self.dir.path().join("state").to_string_lossy().into_owned()
    }
    fn mlpc(&self, args: &[&str]) {
        let mut all: Vec<&str> = args.to_vec();
        let st = self.state();
        all.extend(["--state", &st]);
        let (code, out, err) = mlpc(&all);
        assert_eq!(code, 0, "mlpc {args:?}:\n{out}{err}");
    }
    fn run(&self) {
        self.mlpc(&["run", &self.file().to_string_lossy()]);
    }
    fn version_sha(&self, version: i64) -> String {
        let (_, out, _) = mlpc(&["models", "show", NAME, "--state", &self.state(), "--json"]);
        let shown: Value = serde_json::from_str(&out).unwrap();
        shown["versions"][version as usize - 1]["artifact_sha256"].as_str().unwrap().to_string()
    }
    fn artifact(&self, version: i64) -> PathBuf {
        let sha = self.version_sha(version);
        Path::new(&self.state()).join("artifacts").join(&sha[..2]).join(format!("{sha}.onnx"))
    }
    fn serve(&self) -> Server {
        self.serve_with(&[])
    }
    fn serve_with(&self, flags: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
            .args(["serve", &self.file().to_string_lossy(), "--state", &self.state(), "--addr", "127.0.0.1:0"])
            .args(["--max-body", "65536"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("serving on ").unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
        Server { child: common::Running(child), base: addr, http: reqwest::blocking::Client::new() }
    }
}

/// A running server, stopped with SIGTERM when dropped.
struct Server {
    child: common::Running,
    base: String,
    http: reqwest::blocking::Client,
}

impl Server {
    fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }
    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).body(body.to_string()).send().unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
    }
    /// A POST with this `Content-Type`: the status and the body as JSON.
    fn post_as(&self, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
    }
    fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.post(path, &body.to_string());
        assert_eq!(status, 200, "{path} {body}: {v}");
        v
    }
    /// SIGTERM, then the exit status.
    fn stop(mut self) -> i32 {
        self.child.stop(Duration::from_secs(10))
    }
}

/// A trained pipeline whose version 1 is in production.
fn in_production() -> Pipeline {
    let p = Pipeline::new("logistic_regression()");
    p.run();
    p.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
    p
}

fn customer(id: i64) -> Value {
    json!({"customer_id": id})
}

#[test]
fn every_protocol_answers() {
    let p = in_production();
    let s = p.serve();

    // Open Inference Protocol.
    assert_eq!(s.get("/v2/health/live").0, 200);
    assert_eq!(s.get("/v2/health/ready").0, 200);
    let meta: Value = serde_json::from_str(&s.get("/v2").1).unwrap();
    assert_eq!(meta["name"], "mlpc");
    let model: Value = serde_json::from_str(&s.get(&format!("/v2/models/{NAME}")).1).unwrap();
    assert_eq!(model["versions"], json!(["1"]));
    let inputs = model["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 10, "{model}");
    assert!(inputs.iter().any(|i| i["name"] == "plan" && i["datatype"] == "BYTES"), "{model}");
    assert_eq!(s.get(&format!("/v2/models/{NAME}/ready")).0, 200);
    assert_eq!(s.get(&format!("/v2/models/{NAME}/versions/1/ready")).0, 200);
    assert!(s.get(&format!("/v2/models/{NAME}/config")).1.contains("onnxruntime"));

    let tensors: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let dt = input["datatype"].as_str().unwrap();
            let data = if dt == "BYTES" {
                json!(if input["name"] == "plan" { ["basic", "premium"] } else { ["north", "south"] })
            } else {
                json!([1.0, 2.0])
            };
            // [N, 1] and [N] shapes, and FP64 fed to an FP32 input.
            let shape = if i % 2 == 0 { json!([2, 1]) } else { json!([2]) };
            let dt = if dt == "FP32" && i % 3 == 0 { "FP64" } else { dt };
            json!({"name": input["name"], "shape": shape, "datatype": dt, "data": data})
        })
        .collect();
    let out = s.ok(&format!("/v2/models/{NAME}/infer"), json!({"id": "req-7", "inputs": tensors}));
    assert_eq!(out["id"], "req-7");
    assert_eq!(out["model_version"], "1");
    let probs = out["outputs"].as_array().unwrap().iter().find(|o| o["name"] == "probabilities").unwrap();
    assert_eq!(probs["shape"], json!([2, 2]));
    let only = s
        .ok(&format!("/v2/models/{NAME}/versions/1/infer"), json!({"inputs": tensors, "outputs": [{"name": "label"}]}));
    assert_eq!(only["outputs"].as_array().unwrap().len(), 1);
    let stats: Value = serde_json::from_str(&s.get(&format!("/v2/models/{NAME}/stats")).1).unwrap();
    assert_eq!(stats["model_stats"][0]["inference_stats"]["success"]["count"], 2);

    // Plain JSON with the feature view: the key alone, the key with a value that wins, a
    // full record without the key.
    let by_key = s.ok(&format!("/v1/models/{NAME}/predict"), customer(17));
    let row = &by_key["predictions"][0];
    assert!(row["label"] == "true" || row["label"] == "false", "{by_key}");
    let sum: f64 = row["probabilities"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "{by_key}");
    let two = s.ok(&format!("/v1/models/{NAME}/predict"), json!({"instances": [customer(17), customer(18)]}));
    assert_eq!(two["predictions"][0], by_key["predictions"][0], "the online row is what the key alone gets");
    let sent = s.ok(&format!("/v1/models/{NAME}/predict"), json!({"customer_id": 17, "monthly_spend": 9000.0}));
    assert_ne!(sent["predictions"][0], by_key["predictions"][0], "a value sent wins over the online one");

    // MLflow scoring: the four formats agree.
    let record = json!({
        "total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12,
        "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": 60.0,
        "support_tickets": 2, "tenure_months": 14
    });
    let names: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
    let values: Vec<Value> = names.iter().map(|n| record[n].clone()).collect();
    let columns: serde_json::Map<String, Value> = names.iter().map(|n| (n.clone(), json!([record[n]]))).collect();
    let bodies = [
        json!({"dataframe_split": {"columns": names, "data": [values]}}),
        json!({"dataframe_records": [record]}),
        json!({"instances": [record]}),
        json!({"inputs": columns}),
    ];
    let answers: Vec<Value> = bodies.iter().map(|b| s.ok("/invocations", b.clone())).collect();
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(s.ok(&format!("/models/{NAME}/invocations"), bodies[1].clone()), answers[0]);
    assert_eq!(s.ok(&format!("/v1/models/{NAME}/predict"), record.clone())["predictions"], answers[0]["predictions"]);
    // A row feature left out (`spend_per_ticket = monthly_spend / (support_tickets + 1)`) is
    // computed from the values sent, with or without the key, never taken stale from the table.
    let mut derived = record.clone();
    derived.as_object_mut().unwrap().remove("spend_per_ticket");
    assert_eq!(s.ok(&format!("/v1/models/{NAME}/predict"), derived)["predictions"], answers[0]["predictions"]);
    let sent = json!({"customer_id": 17, "monthly_spend": 9000.0, "support_tickets": 2});
    let mut given = sent.clone();
    given["spend_per_ticket"] = json!(3000.0);
    assert_eq!(
        s.ok(&format!("/v1/models/{NAME}/predict"), sent)["predictions"],
        s.ok(&format!("/v1/models/{NAME}/predict"), given)["predictions"]
    );
    assert_eq!(s.get("/ping").0, 200);
    assert_eq!(s.get("/health").0, 200);
    assert_eq!(s.get("/version").1, env!("CARGO_PKG_VERSION"));

    let (status, metrics) = s.get("/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains(&format!("mlpc_serve_requests_total{{model=\"{NAME}\",version=\"1\"}} 14")), "{metrics}");
    assert!(metrics.contains("mlpc_serve_latency_seconds_bucket"), "{metrics}");

    assert_eq!(s.stop(), 0, "SIGTERM stops the server cleanly");
    assert!(Path::new(&p.state()).join("requests.duckdb").exists(), "the request log is written");
}

/// What MLflow's own client and server take: Python's bare `NaN` for a missing value, CSV
/// tables, `instances` as columns; a content type neither takes is a 415.
#[test]
fn mlflow_clients_send_nan_csv_and_columns() {
    let p = in_production();
    let s = p.serve();
    let full = json!({
        "total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12,
        "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": 60.0,
        "support_tickets": 2, "tenure_months": 14
    });
    let mut missing = full.clone();
    missing["monthly_spend"] = Value::Null;
    missing["plan"] = Value::Null;
    let with_nulls = s.ok("/invocations", json!({"dataframe_records": [full, missing]}));
    // Python's json.dumps([float("nan")]) writes `NaN`; pandas writes a missing category as NaN too.
    let python = json!({"dataframe_records": [full, missing]}).to_string().replace("null", "NaN");
    let (status, with_nan) = s.post_as("/invocations", "application/json", &python);
    assert_eq!((status, &with_nan), (200, &with_nulls), "NaN is a missing value, as null");
    let (status, v) = s.post_as("/invocations", "application/json", &python.replacen("NaN", "Infinity", 1));
    assert_eq!(status, 400, "Infinity is no missing value: {v}");
    assert_eq!(v["error_code"], "BAD_REQUEST");

    let names: Vec<&String> = full.as_object().unwrap().keys().collect();
    let line = |r: &Value| {
        names
            .iter()
            .map(|n| match &r[n.as_str()] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let names_line: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    let csv = format!("{}\n{}\n{}\n", names_line.join(","), line(&full), line(&missing));
    let (status, from_csv) = s.post_as("/invocations", "text/csv; charset=utf-8", &csv);
    assert_eq!((status, &from_csv), (200, &with_nulls), "a CSV table, an empty field missing");
    let (status, v) = s.post_as("/invocations", "text/csv", &format!("{}\n1,2\n", names_line.join(",")));
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("malformed CSV"), "{v}");

    let columns: serde_json::Map<String, Value> =
        names.iter().map(|n| (n.to_string(), json!([full[n.as_str()], missing[n.as_str()]]))).collect();
    assert_eq!(s.ok("/invocations", json!({"instances": columns})), with_nulls, "instances as columns");

    let (status, v) = s.post_as("/invocations", "text/plain", &full.to_string());
    assert_eq!(status, 415, "{v}");
    assert_eq!(v["error_code"], "BAD_REQUEST");
    assert!(v["message"].as_str().unwrap().contains("text/csv"), "{v}");
}

/// One rule for `null` on every protocol (missing, where the input may be missing), values
/// beyond a datatype's range refused, `/v2/` answered, and a 405 that says what the path takes.
#[test]
fn one_null_rule_datatype_ranges_and_method_errors() {
    let p = in_production();
    let s = p.serve();
    let infer = format!("/v2/models/{NAME}/infer");
    let model: Value = serde_json::from_str(&s.get(&format!("/v2/models/{NAME}")).1).unwrap();
    let record = json!({
        "total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12,
        "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": null,
        "support_tickets": 2, "tenure_months": 14
    });
    let tensors = |record: &Value| -> Value {
        let inputs: Vec<Value> = model["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let name = i["name"].as_str().unwrap();
                let dt = if i["datatype"] == "BYTES" { "BYTES" } else { "FP64" };
                json!({"name": name, "datatype": dt, "shape": [1], "data": [record[name]]})
            })
            .collect();
        json!({ "inputs": inputs })
    };
    let by_oip = s.ok(&infer, tensors(&record));
    let by_predict = s.ok(&format!("/v1/models/{NAME}/predict"), record.clone());
    let label = by_oip["outputs"].as_array().unwrap().iter().find(|o| o["name"] == "label").unwrap();
    assert_eq!(label["data"][0], by_predict["predictions"][0]["label"], "null is missing on OIP as on /v1");
    let mut category = record.clone();
    category["plan"] = Value::Null;
    s.ok(&infer, tensors(&category));

    let (status, v) = s.post(
        &infer,
        &json!({"inputs": [{"name": "monthly_spend", "datatype": "FP32", "shape": [1], "data": [1e39]}]}).to_string(),
    );
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("input `monthly_spend` is FP32, whose values lie within ±3.4028235e38, but holds 1e+39"),
        "{v}"
    );
    let (status, v) = s.post(
        &infer,
        &json!({"inputs": [{"name": "monthly_spend", "datatype": "UINT8", "shape": [1], "data": [300]}]}).to_string(),
    );
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("is UINT8, whose values lie within 0..=255, but holds 300"), "{v}");
    let mut huge = record.clone();
    huge["monthly_spend"] = json!(1e39);
    let (status, v) = s.post(&format!("/v1/models/{NAME}/predict"), &huge.to_string());
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("1e39 is beyond the range of the model's input, FP32"), "{v}");

    let (status, slash) = s.get("/v2/");
    assert_eq!((status, slash), s.get("/v2"), "/v2/ is the server metadata");
    let r = s.http.get(format!("{}{infer}", s.base)).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], format!("{infer} does not take GET; it takes POST"));
    let r = s.http.get(format!("{}/invocations", s.base)).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error_code"], "BAD_REQUEST", "MLflow's shape on its paths: {v}");
}

#[test]
fn bad_input_is_a_4xx_that_names_the_problem() {
    let p = in_production();
    let s = p.serve();
    let predict = format!("/v1/models/{NAME}/predict");
    let infer = format!("/v2/models/{NAME}/infer");
    let full = json!({
        "total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12,
        "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": 60.0,
        "support_tickets": 2, "tenure_months": 14
    });
    let with = |k: &str, v: Value| {
        let mut r = full.clone();
        r[k] = v;
        r.to_string()
    };
    let without = |k: &str| {
        let mut r = full.clone();
        r.as_object_mut().unwrap().remove(k);
        r.to_string()
    };
    let big = format!("{{\"instances\": [{}]}}", vec![full.to_string(); 400].join(","));
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("body too large", predict.clone(), big, 413, "this server takes at most 65536 (--max-body)"),
        ("malformed JSON", predict.clone(), "{\"customer_id\": ".into(), 400, "malformed JSON"),
        ("NaN literal", predict.clone(), full.to_string().replace("60.0", "NaN"), 400, "NaN"),
        ("missing column", predict.clone(), without("plan"), 400, "missing column(s) `plan`"),
        ("extra column", predict.clone(), with("colour", json!("red")), 400, "unknown column(s) `colour`"),
        ("wrong type", predict.clone(), with("plan", json!(3)), 400, "column `plan`, row 1: expected a string"),
        ("NaN string", predict.clone(), with("monthly_spend", json!("NaN")), 400, "NaN and infinities are not allowed"),
        ("unknown entity", predict.clone(), customer(99_999_999).to_string(), 404, "unknown customer_id 99999999"),
        ("not an object", predict.clone(), "[1, 2]".into(), 400, "must be"),
        ("unknown model", "/v1/models/nope/predict".into(), full.to_string(), 404, "no model `nope`"),
        (
            "two MLflow formats",
            "/invocations".into(),
            json!({"instances": [full], "inputs": {}}).to_string(),
            400,
            "exactly one of",
        ),
        (
            "OIP wrong datatype",
            infer.clone(),
            json!({"inputs": [{"name": "plan", "shape": [1], "datatype": "FP32", "data": [1.0]}]}).to_string(),
            400,
            "input `plan` is BYTES in the model; the request sent FP32",
        ),
        (
            "OIP bad shape",
            infer.clone(),
            json!({"inputs": [{"name": "plan", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}).to_string(),
            400,
            "one column is [N] or [N, 1]",
        ),
        (
            "OIP data and shape disagree",
            infer.clone(),
            json!({"inputs": [{"name": "plan", "shape": [3], "datatype": "BYTES", "data": ["a"]}]}).to_string(),
            400,
            "its shape [3] holds 3 values, but 1 were sent",
        ),
        ("OIP unknown version", format!("/v2/models/{NAME}/versions/9/infer"), "{}".into(), 404, "version 9"),
    ];
    for (what, path, body, status, says) in cases {
        let (got, v) = s.post(&path, &body);
        assert_eq!(got, status, "{what}: {v}");
        let message = v.get("error").or(v.get("message")).and_then(Value::as_str).unwrap_or_default();
        assert!(message.contains(says), "{what}: {message:?} does not say {says:?}");
    }
    let (status, v) = s.post("/invocations", "{\"dataframe_records\": 5}");
    assert_eq!((status, v["error_code"].as_str()), (400, Some("BAD_REQUEST")), "MLflow's error shape: {v}");
    let (_, metrics) = s.get("/metrics");
    assert!(metrics.contains(&format!("mlpc_serve_errors_total{{model=\"{NAME}\",version=\"1\"}}")), "{metrics}");
    assert_eq!(s.get("/v2/health/live").0, 200, "still alive");
}

/// Concurrent requests are scored in one ONNX Runtime call (one session, a 50 ms window)
/// and each gets its own rows back: the same answers as one at a time.
#[test]
fn concurrent_requests_are_batched_and_each_gets_its_own_answer() {
    let p = in_production();
    let s = p.serve_with(&["--sessions", "1", "--batch-delay", "50ms", "--max-batch", "64"]);
    let path = format!("/v1/models/{NAME}/predict");
    let ids: Vec<i64> = (1..=16).collect();
    let alone: Vec<Value> = ids.iter().map(|&id| s.ok(&path, customer(id))["predictions"].clone()).collect();
    let (s, path) = (&s, &path);
    let together: Vec<Value> = std::thread::scope(|scope| {
        let asked: Vec<_> =
            ids.iter().map(|&id| scope.spawn(move || s.ok(path, customer(id))["predictions"].clone())).collect();
        asked.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(together, alone, "each request gets its own rows back");
    let distinct: std::collections::BTreeSet<String> = alone.iter().map(Value::to_string).collect();
    assert!(distinct.len() > 4, "the customers differ: {distinct:?}");

    let (_, text) = s.get("/metrics");
    let read = |name: &str| -> f64 {
        let line = format!("mlpc_serve_batch_rows_{name}{{model=\"{NAME}\",version=\"1\"}} ");
        let found = text.lines().find_map(|l| l.strip_prefix(&line)).unwrap_or_else(|| panic!("{line} in\n{text}"));
        found.parse().unwrap()
    };
    assert_eq!(read("sum"), 32.0, "32 rows scored");
    assert!(read("count") < 32.0, "some calls scored several requests: {} calls", read("count"));
}

fn wait_for(s: &Server, version: &str) {
    common::eventually(&format!("version {version} swapped in"), Duration::from_secs(10), || {
        let (_, meta) = s.get(&format!("/v2/models/{NAME}"));
        meta.contains(&format!("\"versions\":[\"{version}\"]")).then_some(()).ok_or(meta)
    });
}

/// A pipeline with two versions, 1 in production.
fn two_versions() -> Pipeline {
    let p = in_production();
    p.write("logistic_regression(c = 0.05)");
    p.run();
    p
}

/// Requests are counted under the version that answered them: during a canary the candidate
/// answers a share while the stable version is the one serving.
#[test]
fn metrics_count_the_version_that_answered_in_both_formats() {
    let p = in_production();
    let canary = |algorithm: &str| {
        // The example's canary, whose first step (10%) lasts 30 minutes.
        let text = std::fs::read_to_string("examples/churn/churn.mlp")
            .unwrap()
            .replace("gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)", algorithm)
            .replace("  cv     = 5\n", "");
        std::fs::write(p.file(), text).unwrap();
    };
    canary("logistic_regression()");
    let s = p.serve();
    canary("logistic_regression(c = 0.05)");
    p.run();
    p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    let mut answered = std::collections::BTreeMap::<String, u64>::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered.get("2").copied().unwrap_or_default() < 5 {
        assert!(Instant::now() < deadline, "the candidate answered no request: {answered:?}");
        let v = s.ok(&format!("/v1/models/{NAME}/predict"), customer(17));
        *answered.entry(v["model_version"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert!(answered.contains_key("1"), "the stable version answers the rest: {answered:?}");
    let (_, meta) = s.get(&format!("/v2/models/{NAME}"));
    assert!(meta.contains("\"versions\":[\"1\"]"), "version 1 is the one serving: {meta}");

    let metrics = |accept: &str| {
        let r = s.http.get(format!("{}/metrics", s.base)).header("accept", accept).send().unwrap();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        (content_type, r.text().unwrap())
    };
    let (open_type, open) = metrics("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
    let (text_type, text) = metrics("text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    assert!(open_type.starts_with("application/openmetrics-text"), "{open_type}");
    assert_eq!(text_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(open.ends_with("# EOF\n") && !text.contains("# EOF"), "{text}");
    assert!(open.contains("# TYPE mlpc_serve_requests counter"), "{open}");
    assert!(
        text.contains("# HELP mlpc_serve_requests_total ") && text.contains("# TYPE mlpc_serve_requests_total counter")
    );
    for body in [&open, &text] {
        for (version, n) in &answered {
            let line = format!("mlpc_serve_requests_total{{model=\"{NAME}\",version=\"{version}\"}} {n}\n");
            assert!(body.contains(&line), "{line} in\n{body}");
        }
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_threads ",
            "process_start_time_seconds ",
        ] {
            assert!(body.lines().any(|l| l.starts_with(name)), "{name} in\n{body}");
        }
    }
}

#[test]
fn a_stage_change_under_load_fails_no_request() {
    let p = two_versions();
    let s = p.serve();
    let load = Load::start(&s.base, NAME, json!({}));
    load.until_answered_by("1", 20);
    p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    wait_for(&s, "2");
    load.until_answered_by("2", 20);
    let before = load.answered_by("1");
    p.mlpc(&["rollback", NAME, "--stage", "production", "--by", "test"]);
    wait_for(&s, "1");
    load.until_answered_by("1", before + 20);
    load.finish();
    let (_, metrics) = s.get("/metrics");
    assert!(metrics.contains(&format!("mlpc_serve_model_loads_total{{model=\"{NAME}\",version=\"2\"}}")), "{metrics}");
}

#[test]
fn a_tampered_artifact_is_refused_and_an_empty_stage_is_not_ready() {
    let p = Pipeline::new("logistic_regression()");
    p.run();
    // Nothing in production yet: up, but not ready, and saying why.
    let s = p.serve();
    assert_eq!(s.get("/v2/health/ready").0, 503);
    assert_eq!(s.get("/ping").0, 503);
    let (status, v) = s.post(&format!("/v1/models/{NAME}/predict"), &customer(3).to_string());
    assert_eq!(status, 503);
    assert!(v["error"].as_str().unwrap().contains("no version of `churn-predictor` is in production"), "{v}");
    p.mlpc(&["promote", NAME, "1", "--stage", "production", "--by", "test"]);
    wait_for(&s, "1");

    p.write("logistic_regression(c = 0.05)");
    p.run();
    let artifact = p.artifact(2);
    let mut bytes = std::fs::read(&artifact).unwrap();
    bytes.push(0);
    std::fs::write(&artifact, bytes).unwrap();
    p.mlpc(&["promote", NAME, "2", "--stage", "production", "--by", "test"]);
    let refused = format!("mlpc_serve_integrity_refusals_total{{model=\"{NAME}\"}} 1");
    common::eventually("the refusal is counted", Duration::from_secs(10), || {
        let (_, metrics) = s.get("/metrics");
        metrics.contains(&refused).then_some(()).ok_or(metrics)
    });
    let v = s.ok(&format!("/v1/models/{NAME}/predict"), customer(3));
    assert_eq!(v["model_version"], "1", "the previous version keeps serving");
    drop(s);

    // Started on the tampered version: the version production held before serves, and
    // readiness says why (tests/hostile/serve.rs has the details).
    let s = p.serve();
    let v = s.ok(&format!("/v1/models/{NAME}/predict"), customer(3));
    assert_eq!(v["model_version"], "1", "{v}");
    let (status, ready) = s.get("/v2/health/ready");
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains("but the registry recorded"), "{ready}");
}
