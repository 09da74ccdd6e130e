"""End to end: the real `mlpc lsp` binary driven over stdio by an independent LSP client
(pytest-lsp / pygls), on a scratch copy of examples/churn/churn.mlp.

Run from the repository root, after `cargo build` and `scripts/setup` (which installs the
client into the project's .venv):

    .venv/bin/python -m pytest tests/e2e -q
"""

from __future__ import annotations

import pathlib
import subprocess
import urllib.parse
import urllib.request

from lsprotocol import types

from conftest import CACHE, MLPC, REPO, MlpcClient


def position(text: str, needle: str, after: str = "", delta: int = 0) -> types.Position:
    """Where `needle` starts (plus `delta` characters), searching from the first `after`."""
    start = text.index(after) if after else 0
    offset = text.index(needle, start) + delta
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=column)


def span(text: str, needle: str, after: str = "") -> types.Range:
    start = position(text, needle, after)
    return types.Range(start=start, end=types.Position(line=start.line, character=start.character + len(needle)))


def line_of(text: str, needle: str) -> int:
    return position(text, needle).line


async def open_document(client: MlpcClient, path: pathlib.Path, text: str | None = None) -> tuple[str, str, list]:
    """Opens `path` (with `text`, or what is on disk) and returns its URI, text and the
    diagnostics published for it."""
    text = path.read_text() if text is None else text
    uri = path.as_uri()
    before = len(client.published)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="mlp", version=1, text=text)
        )
    )
    return uri, text, await client.next_diagnostics(uri, before)


async def change(client: MlpcClient, uri: str, version: int, edit: types.Range, new_text: str) -> list:
    """One incremental didChange; returns the next diagnostics published for the file."""
    before = len(client.published)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=edit, text=new_text)],
        )
    )
    return await client.next_diagnostics(uri, before)


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Applies LSP text edits (ASCII text: UTF-16 columns are character columns)."""
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        return sum(len(l) + 1 for l in lines[: p.line]) + p.character

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end) :]
    return text


async def test_server_identifies_itself(client: MlpcClient):
    assert client.init_result is not None
    info, caps = client.init_result.server_info, client.init_result.capabilities
    assert caps.hover_provider and caps.definition_provider and caps.document_formatting_provider
    sync = caps.text_document_sync
    assert getattr(sync, "change", sync) == types.TextDocumentSyncKind.Incremental
    assert info is not None and info.name == "mlpc"


async def test_open_example_has_no_diagnostics(client: MlpcClient, workdir: pathlib.Path):
    _, _, diagnostics = await open_document(client, workdir / "churn.mlp")
    assert diagnostics == []


async def test_error_appears_with_code_and_range_then_clears(client: MlpcClient, workdir: pathlib.Path):
    uri, text, diagnostics = await open_document(client, workdir / "churn.mlp")
    assert diagnostics == []

    # `metrics = [accuracy, auc, f1, log_loss]`: turn `auc` into `aux` by replacing one
    # character, as an editor would send it.
    auc = span(text, "auc", after="metrics = [")
    c = types.Range(
        start=types.Position(line=auc.start.line, character=auc.start.character + 2),
        end=types.Position(line=auc.start.line, character=auc.start.character + 3),
    )
    diagnostics = await change(client, uri, 2, c, "x")
    unknown = [d for d in diagnostics if d.code == "E0002"]
    assert unknown, f"no E0002 in {[(d.code, d.message) for d in diagnostics]}"
    d = unknown[0]
    assert d.range == auc, f"E0002 at {d.range}, expected the `aux` at {auc}"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.source == "mlpc"
    assert "aux" in d.message
    assert d.code_description is not None
    href = d.code_description.href
    assert href.startswith("file://") and href.endswith("/errors/E0002.md"), href
    page = pathlib.Path(urllib.request.url2pathname(urllib.parse.urlparse(href).path))
    assert page.is_file(), f"{href} does not exist"
    # The page the binary carries, written under its cache folder, not the build's source tree.
    assert page.is_relative_to(CACHE), f"{page} is not under {CACHE}"
    assert page.read_text() == (REPO / "docs" / "errors" / "E0002.md").read_text()

    # Typing the `c` back clears every diagnostic of the file.
    diagnostics = await change(client, uri, 3, c, "c")
    assert diagnostics == []


async def test_hover_on_column_shows_its_type(client: MlpcClient, workdir: pathlib.Path):
    uri, text, _ = await open_document(client, workdir / "churn.mlp")
    at = position(text, "monthly_spend", after="inputs = ", delta=3)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=at)
    )
    assert hover is not None
    contents = hover.contents
    value = contents.value if isinstance(contents, types.MarkupContent) else str(contents)
    assert "monthly_spend" in value
    assert "float" in value, value
    if hover.range is not None:
        assert hover.range == span(text, "monthly_spend", after="inputs = ")


async def test_definition_of_feature_view(client: MlpcClient, workdir: pathlib.Path):
    uri, text, _ = await open_document(client, workdir / "churn.mlp")
    at = position(text, "customer_features", after="dataset churn_data", delta=4)
    result = await client.text_document_definition_async(
        types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=at)
    )
    assert result is not None, "no definition"
    locations = result if isinstance(result, list) else [result]
    assert len(locations) == 1
    loc = locations[0]
    target_uri = loc.target_uri if isinstance(loc, types.LocationLink) else loc.uri
    target = loc.target_selection_range if isinstance(loc, types.LocationLink) else loc.range
    assert target_uri == uri
    declared = line_of(text, "features customer_features on customers")
    assert target.start.line == declared
    assert target == span(text, "customer_features", after="features customer_features")


async def test_completion_in_metrics_list(client: MlpcClient, workdir: pathlib.Path):
    uri, text, _ = await open_document(client, workdir / "churn.mlp")
    # Right after `metrics = [`, and after a new `, ` typed before the `]`.
    first = position(text, "[", after="metrics =", delta=1)
    for at in (first, position(text, "]", after="metrics =")):
        if at != first:
            await change(client, uri, 2, types.Range(start=at, end=at), ", ")
            at = types.Position(line=at.line, character=at.character + 2)
        result = await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=at)
        )
        assert result is not None
        items = result.items if isinstance(result, types.CompletionList) else result
        labels = {i.label for i in items}
        assert "auc" in labels, sorted(labels)
        assert "rmse" not in labels, "a regression metric offered for a classifier"
        assert not ({"int", "source", "churn_model"} & labels), sorted(labels)


async def test_formatting_gives_canonical_text(client: MlpcClient, workdir: pathlib.Path, tmp_path: pathlib.Path):
    canonical_example = (workdir / "churn.mlp").read_text()
    # Badly laid out but valid: no indentation or alignment, trailing spaces, three blank
    # lines between declarations, two statements on one line. (Doc comments stay right
    # above their declaration: a blank line there would detach them.)
    messy_lines = []
    for line in canonical_example.split("\n"):
        stripped = " ".join(line.split())
        messy_lines.append((stripped or "\n\n") + ("   " if stripped.endswith("{") else ""))
    messy = "\n".join(messy_lines).replace("label = churned\nsplit", "label = churned; split")
    messy = messy.replace("dataset churn_data =", "dataset   churn_data=")
    assert messy != canonical_example

    path = workdir / "messy.mlp"
    path.write_text(messy)
    uri, _, _ = await open_document(client, path, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert edits, "no edits for a badly laid-out file"
    formatted = apply_edits(messy, edits)

    # `mlpc fmt` on the same text, in a file of its own.
    reference = tmp_path / "reference" / "messy.mlp"
    reference.parent.mkdir()
    reference.write_text(messy)
    subprocess.run([str(MLPC), "fmt", str(reference)], check=True, capture_output=True)
    assert formatted == reference.read_text()
    assert formatted == canonical_example, "the example itself is in canonical layout"

    # Formatting canonical text changes nothing.
    await change(
        client,
        uri,
        2,
        types.Range(start=types.Position(line=0, character=0), end=types.Position(line=len(messy.split("\n")), character=0)),
        formatted,
    )
    again = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert not again


async def test_an_import_that_links_to_another_file_shows_none_of_it(client: MlpcClient, workdir: pathlib.Path):
    # A program may import only `.mlp` files, and a `.mlp` name that links elsewhere is
    # refused by the editor as by `mlpc check`: nothing of the other file reaches a message.
    secret = workdir / "secret.txt"
    secret.write_text("MLPC_ADMIN_TOKEN=hunter2\n")
    (workdir / "leak.mlp").symlink_to(secret)
    main = workdir / "main.mlp"
    main.write_text('import "leak.mlp"\nimport "secret.txt"\n')
    _, _, diagnostics = await open_document(client, main)
    messages = " ".join(f"{d.code} {d.message}" for d in diagnostics)
    assert len(diagnostics) == 2, messages
    assert "hunter2" not in messages and "MLPC_ADMIN_TOKEN" not in messages, messages
    assert "not a `.mlp` file" in messages, messages
