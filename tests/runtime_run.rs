//! `run` end to end on small data written by the test: feature values against values
//! computed here by hand (point in time included), caching, schema mismatches, bad files.

use mlpc_compiler::{compile, FileSystem};
use mlpc_runtime::{run, Options, RunReport, Status};
use std::path::Path;

struct Disk;

impl FileSystem for Disk {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

const PIPELINE: &str = r#"
source customers = csv("customers.csv") {
  customer_id: int       key
  plan:        category
  spend:       float
  tickets:     int
  churned:     bool
  at:          timestamp time
}

source orders = csv("orders.csv") {
  order_id:    int       key
  customer_id: int       references customers.customer_id
  amount:      float
  ts:          timestamp time
}

check customers {
  expect unique(customer_id)
  expect spend between 0 and 1000
  on_fail = stop
}

features f on customers {
  orders_total: int   = count(orders)
  spend_30d:    float = sum(orders.amount) over 30d
  avg_amount:   float = mean(orders.amount)
  days_since:   int   = days_between(max(orders.ts), at)
  per_ticket:   float = spend / (tickets + 1)
}

dataset d = customers with f {
  label = churned
  split = random(train = 50%, test = 50%, seed = 7)
}

model m = logistic_regression() {
  train  = d.train
  inputs = f + [plan]
}
"#;

const CUSTOMERS: &str = "customer_id,plan,spend,tickets,churned,at
1,basic,100.0,1,false,2024-03-01 00:00:00
2,premium,500.0,4,true,2024-03-01 00:00:00
3,basic,0.0,0,false,2024-03-01 00:00:00
";

/// Customer 1: two orders in the window, one older, one AFTER the snapshot (excluded).
/// Customer 2: one old order. Customer 3: none.
const ORDERS: &str = "order_id,customer_id,amount,ts
10,1,10.0,2024-02-20 00:00:00
11,1,20.0,2024-02-25 00:00:00
12,1,40.0,2023-12-01 00:00:00
13,1,1000.0,2024-03-05 00:00:00
20,2,5.0,2023-06-01 00:00:00
";

fn setup(dir: &Path) {
    std::fs::write(dir.join("p.mlp"), PIPELINE).unwrap();
    std::fs::write(dir.join("customers.csv"), CUSTOMERS).unwrap();
    std::fs::write(dir.join("orders.csv"), ORDERS).unwrap();
}

fn go(dir: &Path) -> RunReport {
    go_rerun(dir, &[])
}

fn go_rerun(dir: &Path, rerun: &[&str]) -> RunReport {
    let file = dir.join("p.mlp");
    let c = compile(file.to_str().unwrap(), &Disk);
    assert!(c.plan.is_some(), "{:?}", c.diagnostics);
    let opts = Options {
        file: file.to_string_lossy().into(),
        base_dir: dir.to_path_buf(),
        state_dir: dir.join(".mlp"),
        force: false,
        rerun: rerun.iter().map(|s| s.to_string()).collect(),
        jobs: 2,
        only: None,
        engine: mlpc_runtime::Engine::DuckDb,
    };
    run(c.plan.as_ref().unwrap(), &opts, &mut |_| {}).expect("the run starts")
}

fn status<'a>(r: &'a RunReport, id: &str) -> &'a mlpc_runtime::NodeReport {
    r.nodes.iter().find(|n| n.id == id).unwrap_or_else(|| panic!("no node {id}"))
}

/// A dataset row: (customer_id, orders_total, spend_30d, avg_amount, days_since, per_ticket).
type Row = (i64, i64, f64, Option<f64>, Option<i64>, f64);

/// `read_parquet(…)` of a node's latest data artifact.
fn data(dir: &Path, node: &str) -> String {
    let store = mlpc_runtime::Store::open(&dir.join(".mlp")).unwrap();
    let sha = store.latest_artifact(node, "data").unwrap().unwrap_or_else(|| panic!("no data of {node}"));
    format!("read_parquet('{}')", store.artifact_path(&sha, "parquet").display())
}

/// The dataset's rows, by customer.
fn dataset_rows(dir: &Path) -> Vec<Row> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT customer_id, orders_total, spend_30d, avg_amount, days_since, per_ticket FROM {} ORDER BY customer_id",
            data(dir, "dataset:d")
        ))
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn features_are_point_in_time_correct() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let r = go(dir.path());
    assert_eq!(r.status, "succeeded", "{:#?}", r.nodes);
    assert_eq!(status(&r, "model:m").status, Status::Ran);
    let rows = dataset_rows(dir.path());
    // Customer 1 at 2024-03-01: orders 10, 11, 12 (order 13 is after the snapshot).
    assert_eq!(rows[0].0, 1);
    assert_eq!(rows[0].1, 3, "the later order is excluded");
    assert!((rows[0].2 - 30.0).abs() < 1e-9, "30-day window: 10 + 20, got {}", rows[0].2);
    assert!((rows[0].3.unwrap() - 70.0 / 3.0).abs() < 1e-9);
    assert_eq!(rows[0].4, Some(5), "2024-02-25 to 2024-03-01");
    assert!((rows[0].5 - 50.0).abs() < 1e-9, "100 / (1 + 1)");
    // Customer 2: one old order, nothing in the window (sum of nothing is 0).
    assert_eq!((rows[1].1, rows[1].2), (1, 0.0));
    assert_eq!(rows[1].4, Some(274), "2023-06-01 to 2024-03-01");
    // Customer 3: no orders at all.
    assert_eq!((rows[2].1, rows[2].2, rows[2].3, rows[2].4), (0, 0.0, None, None));
    // Splits cover every row once: their keys, together, are the dataset's, none twice.
    assert_eq!(status(&r, "split:d.train").status, Status::Ran);
    assert_eq!(status(&r, "split:d.test").status, Status::Ran);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let (train, test) = (data(dir.path(), "split:d.train"), data(dir.path(), "split:d.test"));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT customer_id FROM (SELECT customer_id FROM {train} UNION ALL SELECT customer_id FROM {test}) ORDER BY 1"
        ))
        .unwrap();
    let split: Vec<i64> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(split, rows.iter().map(|r| r.0).collect::<Vec<_>>());
}

#[test]
fn reruns_are_cache_hits_and_a_touched_input_reruns_what_depends_on_it() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    go(dir.path());
    let again = go(dir.path());
    let ran: Vec<&str> = again.nodes.iter().filter(|n| n.status == Status::Ran).map(|n| n.id.as_str()).collect();
    assert!(ran.is_empty(), "second run: {ran:?}");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("orders.csv"), format!("{ORDERS}21,2,7.0,2024-02-28 00:00:00\n")).unwrap();
    let third = go(dir.path());
    let mut ran: Vec<&str> = third.nodes.iter().filter(|n| n.status == Status::Ran).map(|n| n.id.as_str()).collect();
    ran.sort();
    assert_eq!(ran, ["dataset:d", "features:f", "model:m", "source:orders", "split:d.test", "split:d.train"]);
    assert_eq!(status(&third, "source:customers").status, Status::Cached);
    assert_eq!(status(&third, "check:customers").status, Status::Cached);
}

#[test]
fn a_rerun_node_and_what_reads_it_run_even_when_cached() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    go(dir.path());
    let again = go_rerun(dir.path(), &["split:d.train"]);
    let mut ran: Vec<&str> = again.nodes.iter().filter(|n| n.status == Status::Ran).map(|n| n.id.as_str()).collect();
    ran.sort();
    assert_eq!(ran, ["model:m", "split:d.train"]);
}

#[test]
fn a_schema_mismatch_is_reported_per_column_and_stops_what_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("customers.csv"),
        CUSTOMERS.replace("1,basic,100.0,1", "1,basic,lots,1").replace(",false,", ",nope,"),
    )
    .unwrap();
    let r = go(dir.path());
    let src = status(&r, "source:customers");
    assert_eq!(src.status, Status::Failed);
    assert!(src.message.contains("column `spend`: declared float, found varchar"), "{}", src.message);
    assert!(src.message.contains("column `churned`: declared bool, found varchar"), "{}", src.message);
    for id in ["check:customers", "features:f", "dataset:d"] {
        assert_eq!(status(&r, id).status, Status::Skipped, "{id}");
    }
    assert_eq!(status(&r, "source:orders").status, Status::Ran, "independent nodes still run");
    assert_eq!(r.status, "failed");
}

#[test]
fn a_failed_check_stops_its_readers() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("customers.csv"), CUSTOMERS.replace("500.0", "5000.0")).unwrap();
    let r = go(dir.path());
    let check = status(&r, "check:customers");
    assert_eq!(check.status, Status::Failed);
    assert!(check.message.contains("spend between 0 and 1000: 1 rows fail"), "{}", check.message);
    assert!(check.message.contains("\"customer_id\":2"), "example rows: {}", check.message);
    assert_eq!(status(&r, "features:f").status, Status::Skipped);
}

#[test]
fn missing_empty_and_corrupt_files_fail_cleanly() {
    for (name, content) in
        [("missing", None), ("empty", Some(&b""[..])), ("corrupt", Some(&b"PAR1 this is not parquet"[..]))]
    {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let pipeline = PIPELINE.replace("csv(\"orders.csv\")", "parquet(\"orders.parquet\")");
        std::fs::write(dir.path().join("p.mlp"), pipeline).unwrap();
        if let Some(bytes) = content {
            std::fs::write(dir.path().join("orders.parquet"), bytes).unwrap();
        }
        let r = go(dir.path());
        let src = status(&r, "source:orders");
        assert_eq!(src.status, Status::Failed, "{name}");
        assert!(src.message.contains("orders.parquet"), "{name}: {}", src.message);
        assert_eq!(status(&r, "features:f").status, Status::Skipped, "{name}");
    }
}
