//! Hostile requests to `mlpc serve` and the daemon: each gets a 4xx with a message, and the
//! server keeps answering. Servers are the real binary on a loopback port; raw sockets send
//! what an HTTP client library would not (lying shapes and lengths, trickled bytes, idle
//! sockets by the thousand).

use crate::common;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NAME: &str = "churn-predictor";

/// The churn example with a fast learner in a temporary folder (canary steps of a second
/// when `canary`, else no canary block).
struct Pipeline {
    dir: tempfile::TempDir,
}

impl Pipeline {
    fn new(canary: bool) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        common::copy_churn_data(dir.path());
        let p = Pipeline { dir };
        std::fs::write(p.file(), common::serving_churn("logistic_regression()", canary, "5s")).unwrap();
        p
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("churn.mlp")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn mlpc(&self, args: &[&str]) -> String {
        common::runtime_ok(&self.state(), args)
    }
    fn run(&self) {
        self.mlpc(&["run", &self.file().to_string_lossy()]);
    }
    fn promote(&self, version: &str) {
        self.mlpc(&["promote", NAME, version, "--stage", "production", "--by", "test"]);
    }
    /// Trained, version 1 in production.
    fn in_production(canary: bool) -> Pipeline {
        let p = Pipeline::new(canary);
        p.run();
        p.promote("1");
        p
    }
    fn artifact(&self, version: i64) -> PathBuf {
        let shown: Value = serde_json::from_str(&self.mlpc(&["models", "show", NAME, "--json"])).unwrap();
        let sha = shown["versions"][version as usize - 1]["artifact_sha256"].as_str().unwrap().to_string();
        self.state().join("artifacts").join(&sha[..2]).join(format!("{sha}.onnx"))
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
    /// `mlpc-runtime serve` with `extra` flags; with `nofile`, under `ulimit -n nofile`.
    fn serve_with(&self, extra: &[&str], nofile: Option<u32>) -> Server {
        let log = std::fs::File::create(self.dir.path().join("serve.log")).unwrap();
        let bin = env!("CARGO_BIN_EXE_mlpc-runtime");
        let mut args: Vec<String> = vec!["serve".into(), self.file().to_string_lossy().into()];
        args.extend(["--state".into(), self.state().to_string_lossy().into(), "--addr".into(), "127.0.0.1:0".into()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("ulimit -n {n} && exec \"$0\" \"$@\"")).arg(bin).args(&args);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.args(&args);
                c
            }
        };
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("serving on ")
            .unwrap_or_else(|| panic!("no address in {line:?}: {}", self.log()))
            .to_string();
        let addr = base.trim_start_matches("http://").parse().unwrap();
        Server {
            _child: common::Running(child),
            base,
            addr,
            http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
        }
    }
    fn serve(&self) -> Server {
        self.serve_with(&[], None)
    }
}

struct Server {
    _child: common::Running,
    base: String,
    addr: SocketAddr,
    http: reqwest::blocking::Client,
}

impl Server {
    fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }
    fn post(&self, path: &str, body: impl Into<reqwest::blocking::Body>) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).body(body).send().unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| json!({"text": text})))
    }
    fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post(path, body.to_string())
    }
    /// A good request is answered: the server is still up and serving.
    fn still_answers(&self) {
        let (status, v) = self.post_json(&format!("/v1/models/{NAME}/predict"), &json!({"customer_id": 7}));
        assert_eq!(status, 200, "a good request after the hostile one: {v}");
    }
    /// Sends raw bytes on a new connection and reads the reply (status, body) until the
    /// server closes or `wait` passes.
    fn raw(&self, bytes: &[u8], wait: Duration) -> (u16, String) {
        raw(self.addr, bytes, wait)
    }
}

fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    // The server may answer and close before everything is written (a refused length).
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn message(v: &Value) -> String {
    v.get("error").or(v.get("message")).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn full_record() -> Value {
    json!({
        "total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12,
        "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": 60.0,
        "support_tickets": 2, "tenure_months": 14
    })
}

#[test]
fn an_oip_shape_larger_than_its_data_is_refused_before_anything_is_allocated() {
    let p = Pipeline::in_production(false);
    let s = p.serve();
    let infer = format!("/v2/models/{NAME}/infer");
    // The request that killed the server: 32 TB allocated from the declared shape.
    let (status, v) =
        s.post(&infer, r#"{"inputs":[{"name":"customer_id","datatype":"INT64","shape":[1000000000000],"data":[1]}]}"#);
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("its shape [1000000000000] holds 1000000000000 values, but 1 were sent"), "{v}");
    s.still_answers();
    // A product that overflows, and a shape nested lists disagree with.
    let (status, v) = s.post_json(
        &infer,
        &json!({"inputs": [{"name": "plan", "datatype": "BYTES", "shape": [4294967296u64, 4294967296u64], "data": ["a"]}]}),
    );
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("but 1 were sent"), "{v}");
    s.still_answers();
}

/// A request body of N rows.
type Body<'a> = Box<dyn Fn(usize) -> Value + 'a>;

#[test]
fn rows_over_the_cap_are_refused_on_every_protocol() {
    let p = Pipeline::in_production(false);
    let s = p.serve_with(&["--max-rows", "50"], None);
    let record = full_record();
    let names: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
    let rows = |n: usize| vec![record.clone(); n];
    let split = |n: usize| {
        let values: Vec<Value> = names.iter().map(|c| record[c].clone()).collect();
        json!({"dataframe_split": {"columns": names, "data": vec![values; n]}})
    };
    let columns = |n: usize| {
        let c: serde_json::Map<String, Value> =
            names.iter().map(|c| (c.clone(), json!(vec![record[c].clone(); n]))).collect();
        json!({"inputs": c})
    };
    let oip = |n: usize| {
        let tensors: Vec<Value> = names
            .iter()
            .map(|c| {
                let dt = match &record[c] {
                    Value::String(_) => "BYTES",
                    _ => "FP64",
                };
                json!({"name": c, "datatype": dt, "shape": [n], "data": vec![record[c].clone(); n]})
            })
            .collect();
        json!({"inputs": tensors})
    };
    let keys = |n: usize| json!({"instances": (1..=n).map(|i| json!({"customer_id": i})).collect::<Vec<_>>()});
    let bodies: Vec<(&str, String, Body<'_>)> = vec![
        ("OIP", format!("/v2/models/{NAME}/infer"), Box::new(oip)),
        ("MLflow records", "/invocations".into(), Box::new(move |n| json!({"dataframe_records": rows(n)}))),
        ("MLflow split", "/invocations".into(), Box::new(split)),
        ("MLflow instances", "/invocations".into(), Box::new(move |n| json!({"instances": vec![full_record(); n]}))),
        ("MLflow inputs", "/invocations".into(), Box::new(columns)),
        ("predict by key", format!("/v1/models/{NAME}/predict"), Box::new(keys)),
    ];
    for (what, path, body) in &bodies {
        let (status, v) = s.post_json(path, &body(50));
        assert_eq!(status, 200, "{what}: 50 rows are taken: {v}");
        let (status, v) = s.post_json(path, &body(51));
        assert_eq!(status, 413, "{what}: {v}");
        assert!(
            message(&v).contains("the request has 51 rows; this server takes at most 50 per request (--max-rows)"),
            "{what}: {v}"
        );
    }
    s.still_answers();
}

#[test]
fn a_request_of_many_keys_is_refused_under_the_default_cap() {
    // 100k keys in 0.59 MB cost about 200 MB of memory each; eight at once, 1.94 GB.
    let p = Pipeline::in_production(false);
    let s = p.serve();
    s.still_answers();
    let before = peak_memory(&s);
    let keys: Vec<Value> = (0..100_000).map(|i| json!({"customer_id": 1 + i % 500})).collect();
    let body = json!({"instances": keys}).to_string();
    let eight: Vec<_> = (0..8)
        .map(|_| {
            let (url, body) = (format!("{}/v1/models/{NAME}/predict", s.base), body.clone());
            std::thread::spawn(move || {
                let r = reqwest::blocking::Client::new().post(url).body(body).send().unwrap();
                (r.status().as_u16(), r.text().unwrap())
            })
        })
        .collect();
    for t in eight {
        let (status, text) = t.join().unwrap();
        assert_eq!(status, 413, "{}", &text[..200.min(text.len())]);
        assert!(text.contains("the request has 100000 rows; this server takes at most 10000"), "{text}");
    }
    let grew = peak_memory(&s).saturating_sub(before);
    eprintln!("eight requests of 100k keys at once: peak memory grew {} MB", grew >> 20);
    assert!(grew < 300 << 20, "eight requests of 100k keys at once grew the server's peak memory by {} MB", grew >> 20);
    s.still_answers();
}

/// The server's peak resident memory (VmHWM), in bytes.
fn peak_memory(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s._child.0.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Percentile `q` of latencies.
fn percentile(mut v: Vec<Duration>, q: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn latencies(s: &Server, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let started = Instant::now();
            let (status, v) = s.post_json(&format!("/v1/models/{NAME}/predict"), &json!({"customer_id": 1 + i % 500}));
            assert_eq!(status, 200, "{v}");
            started.elapsed()
        })
        .collect()
}

/// Whether the server closed this socket (EOF or reset) within `wait`; bytes it sent are returned.
fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<String> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[test]
fn slowloris_leaves_the_server_answering_others_and_its_sockets_are_closed() {
    let p = Pipeline::in_production(false);
    let s = p.serve_with(&["--header-timeout", "2s", "--body-timeout", "2s", "--idle-timeout", "3s"], None);
    let baseline = percentile(latencies(&s, 100), 0.99);

    // 150 sockets trickle their headers, 50 their bodies, one byte every 200 ms; 50 stay idle.
    let predict = format!("POST /v1/models/{NAME}/predict HTTP/1.1\r\nHost: x\r\n");
    let mut heads: Vec<TcpStream> = (0..150).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    let mut bodies: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    let mut idle: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    for h in &mut heads {
        h.write_all(predict.as_bytes()).unwrap();
    }
    for b in &mut bodies {
        b.write_all(format!("{predict}Content-Length: 1000\r\n\r\n{{").as_bytes()).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        let mut socks: Vec<TcpStream> = heads.iter().chain(&bodies).map(|t| t.try_clone().unwrap()).collect();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for t in &mut socks {
                    let _ = t.write_all(b"x");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let attacked = percentile(latencies(&s, 200), 0.99);
    assert!(
        attacked <= baseline * 3 + Duration::from_millis(100),
        "p99 under slowloris {attacked:?}, without {baseline:?}"
    );
    eprintln!("slowloris: p99 {attacked:?} under attack, {baseline:?} without");

    // Every hostile socket is closed by the server within its timeout (plus slack).
    for h in &mut heads {
        assert!(closed_within(h, Duration::from_secs(6)).is_some(), "a trickled header is cut off");
    }
    for b in &mut bodies {
        let said = closed_within(b, Duration::from_secs(6)).expect("a trickled body is cut off");
        assert!(said.is_empty() || said.starts_with("HTTP/1.1 408"), "{said}");
        if !said.is_empty() {
            assert!(said.contains("--body-timeout"), "{said}");
        }
    }
    for i in &mut idle {
        assert!(closed_within(i, Duration::from_secs(6)).is_some(), "an idle socket is closed");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trickle.join().unwrap();
    s.still_answers();
}

#[test]
fn a_trickled_header_is_cut_off_at_the_header_timeout_not_the_idle_one() {
    let p = Pipeline::in_production(false);
    let s = p.serve_with(&["--header-timeout", "1s", "--idle-timeout", "30s"], None);
    let mut socket = TcpStream::connect(s.addr).unwrap();
    let mut writer = socket.try_clone().unwrap();
    let started = Instant::now();
    // One byte every 300 ms: the connection leaves idle at the first, so the header
    // timeout (1 s) bounds it, not what is left of the idle one (30 s).
    let trickle = std::thread::spawn(move || {
        for b in format!("POST /v1/models/{NAME}/predict HTTP/1.1\r\nHost: x\r\nX-Slow: {}", "a".repeat(100)).bytes() {
            if writer.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    assert!(closed_within(&mut socket, Duration::from_secs(20)).is_some(), "a trickled header is cut off");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "the trickled header was held {took:?} with --header-timeout 1s");
    trickle.join().unwrap();
    s.still_answers();
}

#[test]
fn one_record_of_many_keys_is_refused_in_linear_time() {
    let p = Pipeline::in_production(false);
    let s = p.serve();
    let keys: Vec<String> = (0..200_000).map(|i| format!("\"k{i}\":0")).collect();
    let body = format!("{{\"instances\":[{{{}}}]}}", keys.join(","));
    let started = Instant::now();
    let (status, v) = s.post(&format!("/v1/models/{NAME}/predict"), body);
    let took = started.elapsed();
    assert_eq!(status, 400, "{}", &v.to_string()[..200.min(v.to_string().len())]);
    assert!(v.to_string().contains("unknown column"), "{}", &v.to_string()[..200.min(v.to_string().len())]);
    assert!(took < Duration::from_secs(5), "a record of 200,000 keys took {took:?}");
    s.still_answers();
}

#[test]
fn idle_sockets_beyond_the_fd_limit_leave_the_server_answering() {
    let p = Pipeline::in_production(false);
    let s = p.serve_with(&[], Some(1024));
    let mut held = Vec::new();
    for _ in 0..1_100 {
        if let Ok(t) = TcpStream::connect_timeout(&s.addr, Duration::from_secs(2)) {
            held.push(t);
        }
    }
    assert!(held.len() >= 1_024, "the test holds {} sockets", held.len());
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..5 {
        let started = Instant::now();
        s.still_answers();
        assert!(started.elapsed() < Duration::from_secs(5), "request {i} took {:?}", started.elapsed());
    }
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().unwrap().text().unwrap();
    let evicted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mlpc_serve_connections_evicted_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no eviction count in {metrics}"));
    // The cap under `ulimit -n 1024` is 896: the sockets past it closed the longest-idle ones.
    assert!(evicted >= 1_100 - 896, "{evicted} idle connections were closed to make room");
    drop(held);
}

#[test]
fn a_tampered_production_version_at_start_serves_the_intact_previous_one_and_says_why() {
    let p = Pipeline::in_production(false);
    let text =
        std::fs::read_to_string(p.file()).unwrap().replace("logistic_regression()", "logistic_regression(c = 0.05)");
    std::fs::write(p.file(), text).unwrap();
    p.run();
    p.promote("2");
    let artifact = p.artifact(2);
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&artifact, bytes).unwrap();

    let s = p.serve();
    let (status, v) = s.post_json(&format!("/v1/models/{NAME}/predict"), &json!({"customer_id": 3}));
    assert_eq!((status, v["model_version"].as_str()), (200, Some("1")), "{v}");
    let (status, ready) = s.get("/v2/health/ready");
    assert_eq!(status, 200, "{ready}");
    let why = ready["degraded"][NAME].as_str().unwrap_or_default();
    assert!(why.contains("version 1 serves") && why.contains("version 2") && why.contains("sha256"), "{ready}");
    let (status, model) = s.get(&format!("/v2/models/{NAME}/ready"));
    assert_eq!(status, 200, "{model}");
    assert!(model["reason"].as_str().unwrap_or_default().contains("sha256"), "{model}");
    let log = p.log();
    assert!(log.contains("version 2 of `churn-predictor` is refused") && log.contains("version 1 serves"), "{log}");
}

#[test]
fn a_tampered_online_table_is_refused_and_readiness_says_why() {
    let p = Pipeline::in_production(false);
    // The online table is the features node's `online` artifact.
    let store = mlpc_runtime::Store::open_read_only(&p.state()).unwrap();
    let sha = store.latest_artifact("features:customer_features", "online").unwrap().expect("an online table");
    drop(store);
    let path = p.state().join("artifacts").join(&sha[..2]).join(format!("{sha}.parquet"));
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();

    let s = p.serve();
    let (status, v) = s.post_json(&format!("/v1/models/{NAME}/predict"), &json!({"customer_id": 3}));
    assert_eq!(status, 503, "{v}");
    assert!(message(&v).contains("online table") && message(&v).contains("sha256"), "{v}");
    let (status, ready) = s.get("/v2/health/ready");
    assert_eq!(status, 503, "{ready}");
    assert!(ready["not_ready"][NAME].as_str().unwrap_or_default().contains("sha256"), "{ready}");
    // A full record needs no online row: it is still answered.
    let (status, v) = s.post_json(&format!("/v1/models/{NAME}/predict"), &full_record());
    assert_eq!(status, 200, "{v}");
}

#[test]
fn bad_input_is_a_4xx_that_never_counts_against_a_canary_but_candidate_failures_do() {
    let p = Pipeline::new(true);
    p.run();
    p.promote("1");
    common::faulty::import_faulty(&p.file(), &p.state(), common::faulty::Fault::Errors);
    p.run();
    let s = p.serve();
    p.promote("2");
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.get(&format!("/v1/models/{NAME}/canary")).1["canary"]["phase"] != "running" {
        assert!(Instant::now() < deadline, "the canary starts");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A NUL in a category: 400, whichever version the request id lands on.
    let predict = format!("/v1/models/{NAME}/predict");
    for i in 0..300 {
        let r = s
            .http
            .post(format!("{}{predict}", s.base))
            .header("x-request-id", format!("nul-{i}"))
            .body(json!({"customer_id": 3, "plan": "basic\u{0}"}).to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().unwrap();
        assert_eq!(status, 400, "{v}");
        assert!(message(&v).contains("column `plan`, row 1: a category cannot hold the NUL character"), "{v}");
    }
    let c = s.get(&format!("/v1/models/{NAME}/canary")).1["canary"].clone();
    assert_eq!(c["phase"], "running", "bad input did not fail the candidate: {c}");
    assert_eq!(c["live"]["errors"], 0, "{c}");
    // The candidate's own failures (spend beyond what it can take) count against it.
    for i in 0..100 {
        let r = s
            .http
            .post(format!("{}{predict}", s.base))
            .header("x-request-id", format!("big-{i}"))
            .body(json!({"customer_id": 3, "monthly_spend": 9000.0}).to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "the stable version answers");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let c = loop {
        let c = s.get(&format!("/v1/models/{NAME}/canary")).1["canary"].clone();
        if c["phase"] != "running" || Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(c["phase"], "rolled_back", "{c}");
    assert!(c["last_verdict"]["reason"].as_str().unwrap_or_default().contains("error_rate = 100.00%"), "{c}");
    s.still_answers();
}

#[test]
fn an_int_input_refuses_fractions_and_values_beyond_2_pow_53() {
    let p = Pipeline::in_production(false);
    let s = p.serve();
    let predict = format!("/v1/models/{NAME}/predict");
    let with =
        |v: &str| full_record().to_string().replace("\"support_tickets\":2", &format!("\"support_tickets\":{v}"));
    let (status, v) = s.post(&predict, with("1.5"));
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("column `support_tickets`, row 1: expected a whole number, found 1.5"), "{v}");
    for big in ["1180591620717411303424", "9007199254740993", "-9007199254740993", "1e300"] {
        let (status, v) = s.post(&predict, with(big));
        assert_eq!(status, 400, "{big}: {v}");
        assert!(message(&v).contains("beyond ±2^53"), "{big}: {v}");
        assert!(message(&v).contains("cannot hold it exactly"), "{big}: {v}");
    }
    // Whole numbers, written either way, within ±2^53.
    for ok in ["3", "3.0", "9007199254740992"] {
        let (status, v) = s.post(&predict, with(ok));
        assert_eq!(status, 200, "{ok}: {v}");
    }
    // The same through the Open Inference Protocol with a float datatype.
    let record = full_record();
    let tensors: Vec<Value> = record
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            let (dt, v) = match v {
                Value::String(_) => ("BYTES", v.clone()),
                _ if name == "support_tickets" => ("FP64", json!(2.5)),
                _ => ("FP64", v.clone()),
            };
            json!({"name": name, "datatype": dt, "shape": [1], "data": [v]})
        })
        .collect();
    let (status, v) = s.post_json(&format!("/v2/models/{NAME}/infer"), &json!({"inputs": tensors}));
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("expected a whole number, found 2.5"), "{v}");
    s.still_answers();
}

#[test]
fn a_huge_content_length_is_refused_from_the_header_alone() {
    let p = Pipeline::in_production(false);
    let s = p.serve();
    let started = Instant::now();
    let (status, body) = s.raw(
        format!("POST /v1/models/{NAME}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4294967296\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("4294967296 bytes") && body.contains("--max-body"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered from the header: {:?}", started.elapsed());
    s.still_answers();
}

#[test]
fn hostile_bodies_get_a_4xx_and_the_server_answers_on() {
    let p = Pipeline::in_production(false);
    let s = p.serve();
    let predict = format!("/v1/models/{NAME}/predict");
    let deep = "[".repeat(100_000);
    let ten_mb = format!("{{\"instances\": [{}]}}", "{\"customer_id\": 1},".repeat(500_000));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"{\"customer_id\": ".to_vec(), 400, "malformed JSON"),
        ("100k nested [", deep.into_bytes(), 400, "recursion limit"),
        ("NaN", b"{\"customer_id\": NaN}".to_vec(), 400, "JSON has no NaN"),
        ("10 MB", ten_mb.into_bytes(), 413, "--max-body"),
        ("bad UTF-8", b"{\"plan\": \"\xff\xfe\"}".to_vec(), 400, "malformed JSON"),
    ];
    for (what, body, status, says) in cases {
        let (got, v) = s.post(&predict, body);
        assert_eq!(got, status, "{what}: {v}");
        assert!(message(&v).contains(says), "{what}: {v} does not say {says:?}");
        s.still_answers();
    }
    // Lengths hyper refuses before any handler: not a number, two that disagree.
    for head in ["Content-Length: abc\r\n", "Content-Length: 5\r\nContent-Length: 6\r\n", "Content-Length: -1\r\n"] {
        let (status, body) =
            s.raw(format!("POST {predict} HTTP/1.1\r\nHost: x\r\n{head}\r\n{{}}").as_bytes(), Duration::from_secs(5));
        assert_eq!(status, 400, "{head}: {body}");
        s.still_answers();
    }
    // A length shorter than the body: the rest is read as the next request, which is malformed.
    let (status, _) = s.raw(
        format!("POST {predict} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}garbage\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    );
    assert!(status == 400 || status == 200, "{status}");
    s.still_answers();
}

/// A daemon on a fresh pipeline (nothing run) with an admin token; its (serving, api) addresses.
fn daemon(p: &Pipeline, token: &str) -> (common::Running, SocketAddr, SocketAddr) {
    let log = std::fs::File::create(p.dir.path().join("daemon.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc-runtime"))
        .args(["daemon", &p.file().to_string_lossy(), "--state", &p.state().to_string_lossy()])
        .args(["--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--tick-ms", "100"])
        .env("MLPC_ADMIN_TOKEN", token)
        .env_remove("MLPC_WEBHOOK")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut serve, mut api) = (None, None);
    while api.is_none() {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the daemon stopped");
        let addr =
            |prefix: &str| line.trim().strip_prefix(prefix).map(|a| a.trim_start_matches("http://").parse().unwrap());
        serve = serve.or(addr("serving on "));
        api = addr("api on ");
    }
    (common::Running(child), serve.expect("the daemon serves"), api.unwrap())
}

#[test]
fn the_admin_api_takes_any_case_of_bearer_and_refuses_huge_bodies_from_the_header() {
    let p = Pipeline::new(false);
    let token = "a-long-random-admin-token";
    let (_daemon, serving, api) = daemon(&p, token);
    let http = reqwest::blocking::Client::new();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = http
            .get(format!("http://{api}/admin/status"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{scheme}: {}", r.text().unwrap());
    }
    let r = http.get(format!("http://{api}/admin/status")).header("authorization", "bearer wrong").send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .get(format!("http://{api}/admin/status"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    for (addr, path) in [(api, "/admin/promote"), (serving, "/v1/models/churn-predictor/predict")] {
        let started = Instant::now();
        let (status, body) = raw(
            addr,
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 4294967296\r\n\r\n").as_bytes(),
            Duration::from_secs(5),
        );
        assert_eq!(status, 413, "{path}: {body}");
        assert!(body.contains("4294967296 bytes"), "{path}: {body}");
        assert!(started.elapsed() < Duration::from_secs(3), "{path}: answered from the header");
    }
    let r = http
        .get(format!("http://{api}/admin/status"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the API still answers");
}
