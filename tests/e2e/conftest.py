"""Fixtures for the end-to-end language server tests: the `mlpc` binary, a scratch copy
of an example program, and an LSP client (pytest-lsp) connected to `mlpc lsp`.

The binary is, in order: `$MLPC_BIN` (relative paths are taken from the repository
root), `$CARGO_TARGET_DIR/debug/mlpc`, `target/debug/mlpc`. Build it first with
`cargo build`; these tests never build it themselves.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pathlib
import shutil
import tempfile

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from pygls.protocol import default_converter

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "churn" / "churn.mlp"


def mlpc_binary() -> pathlib.Path:
    if os.environ.get("MLPC_BIN"):
        path = pathlib.Path(os.environ["MLPC_BIN"])
        return path if path.is_absolute() else REPO / path
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "mlpc"


MLPC = mlpc_binary()
# The server writes the diagnostic pages it links to under its cache folder: a fresh one.
CACHE = pathlib.Path(tempfile.mkdtemp(prefix="mlpc-lsp-cache-"))
atexit.register(shutil.rmtree, CACHE, ignore_errors=True)


def pytest_configure(config):
    if not (MLPC.is_file() and os.access(MLPC, os.X_OK)):
        raise pytest.UsageError(
            f"no mlpc binary at {MLPC}: run `cargo build` first, or set MLPC_BIN "
            "(or CARGO_TARGET_DIR) to where it is"
        )


class MlpcClient(LanguageClient):
    """pytest-lsp's client, also recording every publishDiagnostics in order, so a
    test can wait for the *next* one for a file without racing the server."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.published: list[types.PublishDiagnosticsParams] = []
        self.published_event = asyncio.Event()
        self.init_result: types.InitializeResult | None = None

    async def next_diagnostics(self, uri: str, after: int, timeout: float = 10.0) -> list[types.Diagnostic]:
        """The diagnostics of the first publish for `uri` after the first `after`
        publishes (of any file)."""

        async def wait():
            seen = after
            while True:
                while seen < len(self.published):
                    p = self.published[seen]
                    seen += 1
                    if p.uri == uri:
                        return list(p.diagnostics)
                self.published_event.clear()
                await self.published_event.wait()

        return await asyncio.wait_for(wait(), timeout)


def _record_diagnostics(client: MlpcClient, params: types.PublishDiagnosticsParams):
    client.diagnostics[params.uri] = params.diagnostics
    client.published.append(params)
    client.published_event.set()


def make_client() -> MlpcClient:
    client = MlpcClient(converter_factory=default_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _record_diagnostics
    register_lsp_features(client, features)
    return client


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A scratch folder holding a copy of examples/churn/churn.mlp (edits stay here)."""
    work = tmp_path.resolve() / "churn"
    work.mkdir()
    shutil.copy(EXAMPLE, work / "churn.mlp")
    return work


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[str(MLPC), "lsp"],
        client_factory=make_client,
        server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)},
    ),
)
async def client(lsp_client: MlpcClient, workdir: pathlib.Path):
    lsp_client.init_result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=workdir.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workdir.as_uri(), name="churn")],
        )
    )
    yield
    await lsp_client.shutdown_session()
