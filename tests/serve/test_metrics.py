"""/metrics read by the Prometheus project's own Python parsers: OpenMetrics (the strict
parser) by default and the text format 0.0.4 when the scraper asks for it; every family
described, the process's own metrics present."""

import shutil
import subprocess

import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from conftest import NAME
from test_mlflow import RECORD

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROCESS = [
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_threads",
    "process_start_time_seconds",
]


def scrape(server, accept):
    r = requests.get(f"http://{server}/metrics", headers={"Accept": accept})
    assert r.status_code == 200
    return r.headers["Content-Type"], r.text


def test_both_formats_parse_with_every_family_described(server):
    assert requests.post(f"http://{server}/v1/models/{NAME}/predict", json=RECORD).status_code == 200
    content_type, open_text = scrape(server, PROMETHEUS_ACCEPT)
    assert content_type.startswith("application/openmetrics-text")
    families = list(parse_openmetrics(open_text))
    names = {f.name for f in families}
    assert all(f.documentation for f in families), [f.name for f in families if not f.documentation]
    assert "mlpc_serve_requests" in names and set(PROCESS) <= names, names

    content_type, text = scrape(server, "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert "# EOF" not in text
    families = list(parse_text(text))
    # The 0.0.4 parser names a family by its TYPE line: a family without one would come
    # back "untyped", and one without HELP with no documentation.
    assert all(f.documentation and f.type != "untyped" for f in families), [
        (f.name, f.type) for f in families if not f.documentation or f.type == "untyped"
    ]
    requests_total = next(f for f in families if f.name == "mlpc_serve_requests")
    assert any(s.labels == {"model": NAME, "version": "1"} and s.value >= 1 for s in requests_total.samples)


def test_promtool_finds_nothing(server):
    """The Prometheus project's own linter (`promtool check metrics`, Debian's prometheus
    package, installed by scripts/setup) finds nothing in /metrics in the text format it
    reads (0.0.4; it takes OpenMetrics' `_total` samples for families without HELP)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/setup"
    assert requests.post(f"http://{server}/v1/models/{NAME}/predict", json=RECORD).status_code == 200
    _, text = scrape(server, "text/plain;version=0.0.4")
    assert "mlpc_serve_requests_total{" in text
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.returncode, checked.stdout, checked.stderr)
