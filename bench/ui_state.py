"""Grows a state folder made by two real `mlpc run`s into a large one for bench/ui.sh:
RUNS runs (copies of the second run under new ids, a metric nudged per run so compare and
charts have something to draw) and VERSIONS registered versions of each name (copies of
its first version). Writes through DuckDB's Python API, the same DuckDB release as mlpc.
    python bench/ui_state.py STATE RUNS VERSIONS
"""

import sys

import duckdb

state, runs, versions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = duckdb.connect(f"{state}/state.duckdb")
last = db.execute("SELECT max(id) FROM runs").fetchone()[0]
have = db.execute("SELECT count(*) FROM runs").fetchone()[0]
copies = max(runs - have, 0)
db.execute("CREATE TEMP TABLE n AS SELECT range AS k FROM range(1, ?)", [copies + 1])
db.execute("""INSERT INTO runs SELECT ? + n.k AS id, started_at + INTERVAL (n.k) MINUTE, finished_at + INTERVAL (n.k) MINUTE,
    CASE WHEN n.k % 17 = 0 THEN 'failed' ELSE status END, pipeline, file, plan_hash, mlpc_version, forced,
    pid, pid_started, boot_id, host, note FROM runs, n WHERE runs.id = ?""", [last, last])
for table, columns in [
    ("node_runs", "node_id, kind, status, cache_key, cached, started_at, millis, message"),
    ("params", "node_id, name, value"),
    ("node_artifacts", "node_id, role, sha256"),
    ("lineage", "from_node, to_node"),
]:
    db.execute(f"INSERT INTO {table} SELECT ? + n.k, {columns} FROM {table}, n WHERE run_id = ?", [last, last])
db.execute("""INSERT INTO metrics SELECT ? + n.k, node_id, name, value + (n.k % 100) / 10000.0
    FROM metrics, n WHERE run_id = ?""", [last, last])
db.execute("""INSERT INTO model_versions SELECT name, version + v.k, registered_at, run_id, model_node, artifact_sha256,
    plan_hash, pipeline_file, data_hashes, params, metrics, algorithm, device, rules, git_commit, plan
    FROM model_versions, (SELECT range AS k FROM range(1, ?)) v WHERE version = 1""", [versions])
print(db.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM model_versions)").fetchone())
