#!/usr/bin/env python3
"""Measures the language server's edit-to-diagnostics latency on a large program.

Generates a valid program of about LINES lines (bench/gen_program.py), starts
`mlpc lsp`, opens the program, then sends EDITS one-character incremental didChange
notifications, one at a time, and times each from the moment the notification is
written to the moment the next textDocument/publishDiagnostics for the file is read:
what a user waits for between a keystroke and updated squiggles. Two scenarios:

- comment: typing into a comment in the middle of the file and deleting it again
  (the program stays valid; diagnostics stay empty);
- error: changing one letter of a metric name in the middle of the file and back
  (alternately an unknown-metric error, with its "did you mean", and a clean program).

For comparison it also times EDITS textDocument/hover requests (request to response)
on a column in the middle of the file: each request compiles the program too.

Usage, from the repository root (after `cargo build --release`):
    bench/lsp_latency.py [--lines 5000] [--edits 50] [--warmup 5] [--mlpc PATH]

The binary defaults to $MLPC, else $CARGO_TARGET_DIR/release/mlpc, else
target/release/mlpc. Only the Python 3 standard library is used: the client is a
minimal JSON-RPC-over-stdio one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import gen_program  # noqa: E402


class Client:
    """A minimal LSP client: Content-Length framed JSON-RPC over the server's stdio."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr)
        self.inbox: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put((time.perf_counter(), None))
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = out.read(length)
            self.inbox.put((time.perf_counter(), json.loads(body)))

    def _send(self, msg: dict) -> float:
        body = json.dumps(msg, separators=(",", ":")).encode()
        sent = time.perf_counter()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.proc.stdin.flush()
        return sent

    def notify(self, method: str, params) -> float:
        return self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params, timeout: float = 60):
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            _, msg = self._next(timeout)
            if msg.get("id") == self.next_id and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result")

    def _next(self, timeout: float):
        at, msg = self.inbox.get(timeout=timeout)
        if msg is None:
            raise RuntimeError(f"the server exited (code {self.proc.wait()})")
        return at, msg

    def diagnostics(self, uri: str, timeout: float = 60) -> tuple[float, list]:
        """Arrival time and contents of the next publishDiagnostics for `uri`."""
        while True:
            at, msg = self._next(timeout)
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                return at, msg["params"]["diagnostics"]

    def close(self):
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def position(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def run_edits(client: Client, uri: str, text: str, at: int, chars: tuple[str, str], count: int, replace: bool):
    """`count` one-character edits at byte offset `at`, alternating between the two
    `chars` (inserted then deleted, or replacing the character there). Returns the
    latencies in ms and the number of diagnostics after each edit."""
    version, times, counts = 1, [], []
    pos = position(text, at)
    for i in range(count):
        version += 1
        if replace:
            new = chars[i % 2]
            end = {"line": pos["line"], "character": pos["character"] + 1}
            change = {"range": {"start": pos, "end": end}, "text": new}
        elif i % 2 == 0:
            change = {"range": {"start": pos, "end": pos}, "text": chars[0]}
        else:
            end = {"line": pos["line"], "character": pos["character"] + 1}
            change = {"range": {"start": pos, "end": end}, "text": ""}
        sent = client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )
        arrived, diagnostics = client.diagnostics(uri)
        times.append((arrived - sent) * 1000)
        counts.append(len(diagnostics))
    return times, counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--edits", type=int, default=50, help="timed edits per scenario")
    ap.add_argument("--warmup", type=int, default=5, help="untimed edits before each scenario")
    ap.add_argument("--mlpc", default=os.environ.get("MLPC"))
    args = ap.parse_args()

    mlpc = args.mlpc
    if not mlpc:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
        mlpc = str((REPO / target if not target.is_absolute() else target) / "release" / "mlpc")
    if not os.access(mlpc, os.X_OK):
        print(f"error: no mlpc binary at {mlpc}; run `cargo build --release` or pass --mlpc", file=sys.stderr)
        return 2

    text = gen_program.generate(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        # Two folders deep: the server looks beside the file and one folder up for a
        # program that imports it, and only this program should be there.
        folder = pathlib.Path(tmp).resolve() / "bench" / "program"
        folder.mkdir(parents=True)
        path = folder / "generated.mlp"
        path.write_text(text)
        check = subprocess.run([mlpc, "check", "--format", "short", str(path)], capture_output=True, text=True)
        if check.returncode != 0:
            print(check.stdout + check.stderr, file=sys.stderr)
            print("error: the generated program does not check clean", file=sys.stderr)
            return 1
        uri = path.as_uri()

        client = Client([mlpc, "lsp"])
        client.request("initialize", {"processId": os.getpid(), "rootUri": folder.as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        sent = client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "mlp", "version": 1, "text": text}},
        )
        arrived, diagnostics = client.diagnostics(uri)
        if diagnostics:
            print(f"error: {len(diagnostics)} diagnostics on open: {diagnostics[:3]}", file=sys.stderr)
            return 1
        open_ms = (arrived - sent) * 1000

        middle = len(text) // 2
        # A comment in the middle of the file: the end of a `// when this row was true`.
        comment = text.index("// when this row was true", middle) + len("// when this row was true")
        # A metric name in the middle of the file: the `c` of `auc` in a metrics list.
        metric = text.index("metrics = [accuracy, auc", middle) + len("metrics = [accuracy, au")

        results = {}
        for name, at, chars, replace in (
            ("comment", comment, ("x", ""), False),
            ("error", metric, ("x", "c"), True),
        ):
            # Warm-up edits (even count, so the text ends as it started).
            run_edits(client, uri, text, at, chars, args.warmup * 2, replace)
            times, counts = run_edits(client, uri, text, at, chars, args.edits, replace)
            results[name] = (times, counts)

        hover_at = position(text, text.index("inputs = ", middle) + len("inputs = ") + 2)
        hover_params = {"textDocument": {"uri": uri}, "position": hover_at}
        if not client.request("textDocument/hover", hover_params):
            print("error: no hover at", hover_at, file=sys.stderr)
            return 1
        hovers = []
        for _ in range(args.edits):
            start = time.perf_counter()
            client.request("textDocument/hover", hover_params)
            hovers.append((time.perf_counter() - start) * 1000)
        client.close()

    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"machine: {os.cpu_count()} cores, {cpu or platform.processor()}, {platform.system()} {platform.release()}")
    print(f"binary: {mlpc}")
    print(f"program: {text.count(chr(10))} lines, {len(text)} bytes; didOpen -> diagnostics {open_ms:.1f} ms")
    print(f"{args.edits} timed one-character edits per scenario (after {args.warmup * 2} warm-up), didChange -> publishDiagnostics:")
    for name, (times, counts) in results.items():
        errors = sorted(set(counts))
        print(
            f"  {name:8} median {statistics.median(times):6.1f} ms   p90 {percentile(times, 90):6.1f} ms   "
            f"max {max(times):6.1f} ms   min {min(times):6.1f} ms   (diagnostics per publish: {errors})"
        )
    print(
        f"  {'hover':8} median {statistics.median(hovers):6.1f} ms   p90 {percentile(hovers, 90):6.1f} ms   "
        f"max {max(hovers):6.1f} ms   min {min(hovers):6.1f} ms   (request -> response)"
    )
    worst = max(statistics.median(t) for t, _ in results.values())
    print(f"target <= 20 ms median: {'met' if worst <= 20 else 'NOT met'} (worst scenario median {worst:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
