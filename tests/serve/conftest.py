"""A state folder built with `mlpc run` (the churn example, a fast learner, version 1 in
production) and `mlpc serve` on free loopback ports (HTTP, and gRPC with --grpc-addr),
stopped after the tests."""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MLPC = Path(os.environ.get("MLPC", TARGET / "debug" / "mlpc"))
NAME = "churn-predictor"


def mlpc(*args):
    done = subprocess.run([str(MLPC), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mlpc {args}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """The server's HTTP and gRPC addresses (HOST:PORT each)."""
    if not MLPC.exists():
        pytest.fail(f"{MLPC} is missing: run `cargo build` first (or set MLPC)")
    work = tmp_path_factory.mktemp("serve")
    shutil.copytree(ROOT / "examples/churn/data", work / "data")
    text = (ROOT / "examples/churn/churn.mlp").read_text()
    text = text.replace("gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)", "logistic_regression()")
    text = text.replace("  cv     = 5\n", "")
    (work / "churn.mlp").write_text(text)
    state = str(work / "state")
    mlpc("run", str(work / "churn.mlp"), "--state", state)
    mlpc("promote", NAME, "1", "--stage", "production", "--by", "pytest", "--state", state)
    # Its own process group: SIGTERM reaches `mlpc` and the `mlpc-runtime` it starts.
    proc = subprocess.Popen(
        [
            *(str(MLPC), "serve", str(work / "churn.mlp"), "--state", state),
            *("--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines = proc.stdout.readline() + proc.stdout.readline()
    found = re.match(r"serving on http://(\S+)\ngrpc on (\S+)\n", lines)
    if not found:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"mlpc serve did not start: {lines!r}")
    yield found.group(1), found.group(2)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def server(served):
    """The HTTP address."""
    return served[0]


@pytest.fixture(scope="session")
def grpc_server(served):
    """The gRPC address."""
    return served[1]
