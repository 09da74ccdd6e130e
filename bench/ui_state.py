"""Grows a state folder made by two real `mlpc run`s into a large one for bench/ui.sh:
RUNS runs (copies of the second run under new ids, a metric nudged per run so compare and
charts have something to draw) and VERSIONS registered versions of each name (copies of
its first version), each registered and promoted to staging as the rule does: the stage moves
and their audit log entries are written too, chained and anchored as mlpc writes them, so
the registry's page verifies a log of 2 x VERSIONS entries that agrees with the store.
Writes through DuckDB's Python API, the same DuckDB release as mlpc.
    python bench/ui_state.py STATE RUNS VERSIONS
"""

import hashlib
import json
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

# The audit log: a register and a promotion to staging per new version, as `mlpc run` writes
# them (the canonical JSON of each entry is what its hash covers).
log_path = f"{state}/audit.log"
with open(log_path) as f:
    last_record = json.loads(f.read().splitlines()[-1])
seq, prev = last_record["seq"], last_record["hash"]
rows = db.execute("""SELECT name, registered_at, artifact_sha256, algorithm, model_node, version FROM model_versions
    WHERE version > 1 ORDER BY name, version""").fetchall()
move_id = db.execute("SELECT coalesce(max(id), 0) FROM stage_moves").fetchone()[0]
rule = db.execute("SELECT reason FROM stage_moves WHERE kind = 'promote' ORDER BY id LIMIT 1").fetchone()[0]
moves, lines, record = [], [], None
for name, at, sha, algorithm, node, version in rows:
    for action, stage, reason in [
        ("register", None, f"{algorithm} from {node}, artifact sha256:{sha}"),
        ("promote", "staging", rule),
    ]:
        seq += 1
        entry = {"seq": seq, "at": at, "action": action, "name": name, "version": version, "stage": stage,
                 "by": "run 1", "reason": reason, "prev": prev}
        prev = hashlib.sha256(json.dumps(entry, separators=(",", ":")).encode()).hexdigest()
        record = json.dumps({**entry, "hash": prev}, separators=(",", ":"))
        lines.append(record + "\n")
    move_id += 1
    moves.append((move_id, name, "staging", version - 1, version, "promote", at, "run 1", rule))
with open(log_path, "a") as f:
    f.writelines(lines)
if moves:
    db.executemany("INSERT INTO stage_moves VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", moves)
    db.execute("UPDATE audit_anchor SET entries = ?, head = ?, tail = ? WHERE id = 1", [seq, prev, f"[{record}]"])
print(db.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM model_versions)").fetchone())
