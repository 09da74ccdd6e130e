"""KServe's own clients — REST (JSON and binary tensor data) and gRPC — against the real
server, in an interpreter of their own (kserve_clients.py says why)."""

import subprocess
import sys
from pathlib import Path


def test_kserve_rest_and_grpc_clients(server, grpc_server):
    script = Path(__file__).with_name("kserve_clients.py")
    done = subprocess.run([sys.executable, str(script), server, grpc_server], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kserve: all checks passed" in done.stdout
