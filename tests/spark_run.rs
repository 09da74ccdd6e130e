//! Parity of the data plane on Spark (`--engine spark`, a real Spark Connect server from
//! `scripts/services/spark`, its URL in `MLPC_TEST_SPARK`): the churn example run on DuckDB
//! and on Spark gives the same node results, the same data (integers, timestamps and nulls
//! exactly, floats to 1e-9), the same check failures, and the same trained model.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn spark() -> Option<String> {
    let Ok(remote) = std::env::var("MLPC_TEST_SPARK") else {
        assert!(std::env::var("MLPC_REQUIRE_SERVICES").is_err(), "MLPC_TEST_SPARK is not set");
        eprintln!("not run: no Spark Connect server (start scripts/services/spark)");
        return None;
    };
    Some(remote)
}

/// `mlpc run FILE` on an engine into `state`, and the run's nodes as `runs show --json` has them.
fn run(file: &Path, base: &Path, state: &Path, engine: &[&str]) -> Vec<Value> {
    let mut args = vec!["run", file.to_str().unwrap(), "--state", state.to_str().unwrap()];
    args.extend(["--base-dir", base.to_str().unwrap()]);
    args.extend(engine);
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc")).args(&args).env_remove("MLPC_STATE").output().unwrap();
    let shown = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["runs", "show", "1", "--state", state.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&shown.stderr)
    );
    let report: Value = serde_json::from_slice(&shown.stdout).unwrap();
    // By id, not in the order they happened to finish.
    let mut nodes = report["nodes"].as_array().unwrap().clone();
    nodes.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    nodes
}

/// Where a content-addressed artifact lies in a state folder.
fn artifact(state: &Path, sha: &str) -> std::path::PathBuf {
    let dir = state.join("artifacts").join(&sha[..2]);
    std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_string_lossy().contains(sha)).unwrap()
}

/// How many cells of two Parquet files differ: row by row in file order; floats beyond
/// 1e-9, anything else (nulls included) when not identical. Also compares shapes.
fn differing_cells(a: &Path, b: &Path) -> i64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let read = |p: &Path| format!("read_parquet('{}', file_row_number = true)", p.display());
    let describe = |p: &Path| -> Vec<(String, String)> {
        let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM read_parquet('{}')", p.display())).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let cols = describe(a);
    assert_eq!(cols, describe(b), "{} and {} have different columns", a.display(), b.display());
    let count =
        |p: &Path| -> i64 { conn.query_row(&format!("SELECT count(*) FROM {}", read(p)), [], |r| r.get(0)).unwrap() };
    assert_eq!(count(a), count(b), "{} and {} have different row counts", a.display(), b.display());
    let cells: Vec<String> = cols
        .iter()
        .map(|(c, ty)| {
            let (x, y) = (format!("x.\"{c}\""), format!("y.\"{c}\""));
            if ty == "DOUBLE" || ty == "FLOAT" {
                format!("CASE WHEN {x} IS NULL AND {y} IS NULL THEN 0 WHEN abs({x} - {y}) <= 1e-9 THEN 0 ELSE 1 END")
            } else {
                format!("CASE WHEN {x} IS NOT DISTINCT FROM {y} THEN 0 ELSE 1 END")
            }
        })
        .collect();
    conn.query_row(
        &format!(
            "SELECT coalesce(sum({}), 0) FROM {} AS x JOIN {} AS y USING (file_row_number)",
            cells.join(" + "),
            read(a),
            read(b)
        ),
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// A check report's lines without their example rows (whose JSON each engine prints its way).
fn without_examples(message: &str) -> String {
    message.lines().map(|l| l.split(", e.g.").next().unwrap()).collect::<Vec<_>>().join("\n")
}

fn assert_parity(file: &Path, base: &Path, remote: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (duck, spark) = (dir.path().join("duck"), dir.path().join("spark"));
    let a = run(file, base, &duck, &[]);
    let b = run(file, base, &spark, &["--engine", "spark", "--spark-remote", remote]);
    let failed = |nodes: &[Value]| -> Vec<String> {
        nodes.iter().filter(|n| n["status"] == "failed").map(|n| format!("{}: {}", n["id"], n["message"])).collect()
    };
    assert_eq!(failed(&a), Vec::<String>::new(), "on DuckDB");
    assert_eq!(failed(&b), Vec::<String>::new(), "on Spark");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let id = x["id"].as_str().unwrap();
        assert_eq!(x["id"], y["id"]);
        assert_eq!(x["status"], y["status"], "{id}: {} / {}", x["message"], y["message"]);
        if x["kind"] == "model" || x["kind"] == "register" {
            // Training is not the data plane: the same data must give the same model file.
            assert_eq!(x["artifacts"].get("model"), y["artifacts"].get("model"), "{id}: the models differ");
            continue;
        }
        assert_eq!(x["metrics"], y["metrics"], "{id}");
        let (mx, my) = (x["message"].as_str().unwrap(), y["message"].as_str().unwrap());
        assert_eq!(without_examples(mx), without_examples(my), "{id}");
        for (role, sha) in x["artifacts"].as_object().unwrap() {
            let (sa, sb) = (sha.as_str().unwrap(), y["artifacts"][role].as_str().unwrap());
            let (fa, fb) = (artifact(&duck, sa), artifact(&spark, sb));
            if fa.extension().is_some_and(|e| e == "parquet") {
                assert_eq!(differing_cells(&fa, &fb), 0, "{id} {role}: {} vs {}", fa.display(), fb.display());
            } else {
                assert_eq!(sa, sb, "{id} {role}");
            }
        }
    }
}

#[test]
fn churn_on_spark_equals_duckdb() {
    let Some(remote) = spark() else { return };
    let churn = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/churn");
    assert_parity(&churn.join("churn.mlp"), &churn, &remote);
}

/// The churn program's data nodes (up to its dataset and split) on generated data of
/// 100,000 customers and about 500,000 orders.
#[test]
fn a_100k_customer_churn_on_spark_equals_duckdb() {
    let Some(remote) = spark() else { return };
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["example-data", "churn", "--customers", "100000", "--out"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let program =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/churn/churn.mlp")).unwrap();
    let data_plane = &program[..program.find("model churn_model").unwrap()];
    let file = dir.path().join("churn.mlp");
    std::fs::write(&file, data_plane).unwrap();
    assert_parity(&file, dir.path(), &remote);
}

#[test]
fn check_failures_on_spark_equal_duckdb() {
    let Some(remote) = spark() else { return };
    let program = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/churn/churn.mlp"))
        .unwrap()
        .replace("expect row_count() >= 1000", "expect row_count() >= 1000000\n  expect tenure_months < 10\n  expect accepted_values(plan, [\"basic\", \"pro\"])")
        .replace("on_fail = stop  // or warn", "on_fail = warn");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("churn.mlp");
    std::fs::write(&file, program).unwrap();
    assert_parity(&file, &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/churn"), &remote);
}

/// Writes the delivery example's data (which the repository does not ship), made up by
/// DuckDB SQL without randomness: 600 customers with 10 weekly snapshots each, 12,000 orders
/// in three Parquet files, 30,000 order lines, 12,000 deliveries in a `;`-separated CSV;
/// some order channels null (a `null_fraction` warning) and some ratings 0 (a row-level one).
fn delivery_data(dir: &Path) {
    std::fs::create_dir_all(dir.join("data/orders")).unwrap();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let at = |o: &str| format!("(TIMESTAMP '2023-10-01' + INTERVAL (({o}) * 613 % (200 * 86400)) SECOND)");
    let out = |f: &str| dir.join("data").join(f).display().to_string();
    let sql = format!(
        "COPY (SELECT c AS customer_id, DATE '2022-01-01' + CAST(c * 7 % 700 AS INTEGER) AS signup_date,
                ['north', 'south', 'east', 'west'][c % 4 + 1] AS region, CASE WHEN c % 3 = 0 THEN 'plus' ELSE 'free' END AS plan,
                c % 5 + 1 AS household_size,
                TIMESTAMP '2024-01-01' + INTERVAL (w * 7) DAY + INTERVAL (c % 24) HOUR AS snapshot_at,
                ((c * 37 + w * 11) % 500) / 3.0 AS spend_next_30d
              FROM range(1, 601) a(c), range(0, 10) b(w) ORDER BY c, w) TO '{customers}' (HEADER);
         CREATE TABLE orders AS SELECT o AS order_id, o % 600 + 1 AS customer_id, {placed} AS placed_at,
                (o * 7919 % 10000) / 100.0 AS total, (o * 7919 % 10000) / 100.0 * (o % 5) / 10 AS discount,
                CASE WHEN o % 7 = 0 THEN NULL ELSE ['app', 'web', 'phone'][o % 3 + 1] END AS channel
              FROM range(1, 12001) t(o);
         COPY (SELECT * FROM orders WHERE order_id <= 4000 ORDER BY order_id) TO '{o1}' (FORMAT PARQUET);
         COPY (SELECT * FROM orders WHERE order_id BETWEEN 4001 AND 8000 ORDER BY order_id) TO '{o2}' (FORMAT PARQUET);
         COPY (SELECT * FROM orders WHERE order_id > 8000 ORDER BY order_id) TO '{o3}' (FORMAT PARQUET);
         COPY (SELECT i AS item_id, i % 12000 + 1 AS order_id, i % 250 AS product_id,
                ['dairy', 'bakery', 'produce'][i % 3 + 1] AS aisle, i % 4 + 1 AS quantity, (i * 31 % 2000) / 100.0 AS unit_price,
                {item_at} + INTERVAL 60 SECOND AS added_at
              FROM range(1, 30001) t(i)) TO '{items}' (FORMAT PARQUET);
         COPY (SELECT d AS delivery_id, d AS order_id, {promised} + INTERVAL 2 HOUR AS promised_at,
                {promised} + INTERVAL 2 HOUR + INTERVAL ((d % 9 - 3) * 10) MINUTE AS delivered_at,
                greatest((d % 9 - 3) * 10, 0) AS minutes_late, d % 6 AS rating
              FROM range(1, 12001) t(d)) TO '{deliveries}' (HEADER, DELIMITER ';');",
        customers = out("customers.csv"),
        placed = at("o"),
        item_at = at("i % 12000 + 1"),
        promised = at("d"),
        o1 = out("orders/part-1.parquet"),
        o2 = out("orders/part-2.parquet"),
        o3 = out("orders/part-3.parquet"),
        items = out("order_items.parquet"),
        deliveries = out("deliveries.csv"),
    );
    conn.execute_batch(&sql).unwrap();
}

/// The delivery example's data plane: a glob of Parquet files, a `;`-separated CSV,
/// references over two hops, windows, `count_distinct`, `median`, checks that warn.
#[test]
fn delivery_on_spark_equals_duckdb() {
    let Some(remote) = spark() else { return };
    let dir = tempfile::tempdir().unwrap();
    delivery_data(dir.path());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/delivery");
    let program = std::fs::read_to_string(examples.join("delivery.mlp")).unwrap();
    let data_plane = &program[..program.find("\nmodel ").unwrap()];
    std::fs::write(dir.path().join("delivery.mlp"), data_plane).unwrap();
    std::fs::copy(examples.join("features.mlp"), dir.path().join("features.mlp")).unwrap();
    assert_parity(&dir.path().join("delivery.mlp"), dir.path(), &remote);
}

/// A source whose data does not fit its declared schema fails the same way on both
/// engines, each mismatched column named.
#[test]
fn schema_mismatches_on_spark_equal_duckdb() {
    let Some(remote) = spark() else { return };
    let churn = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/churn");
    let program = std::fs::read_to_string(churn.join("churn.mlp"))
        .unwrap()
        .replace("monthly_spend:   float", "monthly_spend:   int")
        .replace("region:          category", "region:          date\n  loyalty_tier:    category");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("churn.mlp");
    std::fs::write(&file, &program[..program.find("model churn_model").unwrap()]).unwrap();
    let source = |state: &str, engine: &[&str]| {
        let nodes = run(&file, &churn, &dir.path().join(state), engine);
        nodes.into_iter().find(|n| n["id"] == "source:customers").unwrap()
    };
    let (a, b) = (source("duck", &[]), source("spark", &["--engine", "spark", "--spark-remote", &remote]));
    assert_eq!(a["status"], "failed");
    let message = a["message"].as_str().unwrap();
    for column in [
        "`monthly_spend`: declared int, found double",
        "`region`: declared date, found varchar",
        "`loyalty_tier`: declared category, not in the data",
    ] {
        assert!(message.contains(column), "{message}");
    }
    assert_eq!(a["message"], b["message"]);
}
