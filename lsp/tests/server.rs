//! The server loop over an in-memory connection: sync, diagnostics, requests, bad
//! requests and shutdown.

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{json, Value};
use std::time::Duration;

/// Files not open in the client, read from the disk as they are.
struct Disk;

impl mlpc_compiler::FileSystem for Disk {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

struct Client {
    conn: Connection,
    next: i32,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Client {
    fn start() -> Client {
        let (server, conn) = Connection::memory();
        let thread = std::thread::spawn(move || mlpc_lsp::serve(server, Box::new(Disk)).expect("server runs"));
        let mut c = Client { conn, next: 0, thread: Some(thread) };
        let caps = c.request("initialize", json!({ "capabilities": {}, "processId": null, "rootUri": null }));
        assert!(caps["capabilities"]["hoverProvider"].as_bool().unwrap_or(false));
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.into(), params))).unwrap();
    }

    fn send(&mut self, method: &str, params: Value) -> Response {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).unwrap();
        loop {
            match self.conn.receiver.recv_timeout(Duration::from_secs(10)).expect("a reply") {
                Message::Response(r) if r.id == id => return r,
                _ => continue,
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let r = self.send(method, params);
        assert!(r.error.is_none(), "{method}: {:?}", r.error);
        r.result.unwrap_or(Value::Null)
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&self, uri: &str) -> Vec<Value> {
        loop {
            match self.conn.receiver.recv_timeout(Duration::from_secs(10)).expect("diagnostics") {
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri => {
                    return n.params["diagnostics"].as_array().unwrap().clone()
                }
                _ => continue,
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let _ = self.send("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.thread.take().unwrap().join().unwrap();
    }
}

fn uri(dir: &tempfile::TempDir, name: &str) -> String {
    url_of(&dir.path().join(name))
}

fn url_of(p: &std::path::Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn diagnostics_follow_edits() {
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir, "p.mlp");
    let mut c = Client::start();
    let text = "source s = csv(\"s.csv\") {\n  id: int key\n}\n\ncheck s {\n  expect unique(idd)\n}\n";
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": doc, "languageId": "mlp", "version": 1, "text": text } }),
    );
    let diags = c.diagnostics(&doc);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "E0002");
    assert_eq!(d["range"], json!({ "start": { "line": 5, "character": 16 }, "end": { "line": 5, "character": 19 } }));
    let href = d["codeDescription"]["href"].as_str().unwrap();
    let page = url::Url::parse(href).unwrap().to_file_path().unwrap();
    assert!(page.ends_with(format!("{}/errors/E0002.md", env!("CARGO_PKG_VERSION"))), "{href}");
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors/E0002.md")).unwrap();
    assert_eq!(std::fs::read_to_string(&page).unwrap(), source, "the page the binary carries");
    assert!(d["relatedInformation"][0]["message"].as_str().unwrap().contains("did you mean `id`?"));

    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": doc }, "range": d["range"], "context": { "diagnostics": [d] }
        }),
    );
    assert_eq!(actions[0]["title"], "replace with `id`");
    assert_eq!(actions[0]["edit"]["changes"][&doc][0]["newText"], "id");

    c.notify("textDocument/didChange", json!({
        "textDocument": { "uri": doc, "version": 2 },
        "contentChanges": [{ "range": { "start": { "line": 5, "character": 16 }, "end": { "line": 5, "character": 19 } }, "text": "id" }]
    }));
    assert_eq!(c.diagnostics(&doc), Vec::<Value>::new(), "fixed by an incremental edit");

    let hover = c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": doc }, "position": { "line": 5, "character": 17 } }),
    );
    assert!(hover["contents"]["value"].as_str().unwrap().contains("s.id: int key"), "{hover}");
}

#[test]
fn formatting_and_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let doc = uri(&dir, "f.mlp");
    let mut c = Client::start();
    let text = "source s=csv(\"s.csv\"){ id:int key }\ncheck s { expect unique(id) }\n";
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": doc, "languageId": "mlp", "version": 1, "text": text } }),
    );
    c.diagnostics(&doc);
    let edits = c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": doc }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(edits[0]["newText"], mlpc_compiler::format::format(text).unwrap());
    let symbols = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": doc } }));
    assert_eq!(symbols[0]["name"], "s");
    assert_eq!(symbols[0]["children"][0]["name"], "id");
    let tokens = c.request("textDocument/semanticTokens/full", json!({ "textDocument": { "uri": doc } }));
    assert!(tokens["data"].as_array().unwrap().len() >= 5 * 4);
}

#[test]
fn bad_requests_get_errors_not_crashes() {
    let mut c = Client::start();
    let r = c.send("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(r.error.unwrap().code, lsp_server::ErrorCode::InvalidParams as i32);
    let r = c.send("workspace/frobnicate", json!({}));
    assert_eq!(r.error.unwrap().code, lsp_server::ErrorCode::MethodNotFound as i32);
    let r = c.send(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "http://example.com/x.mlp" }, "position": { "line": 0, "character": 0 } }),
    );
    assert!(r.error.is_some());
    let r = c.send(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///no/such/dir/x.mlp" }, "position": { "line": 99, "character": 99 } }),
    );
    assert!(r.error.is_some(), "an unreadable file is an error");
    c.notify("textDocument/didChange", json!({ "garbage": 1 }));
    let r = c.send("shutdown", Value::Null);
    assert!(r.error.is_none(), "still alive after garbage");
    c.notify("exit", Value::Null);
    c.thread.take().unwrap().join().unwrap();
    std::mem::forget(c);
}

#[test]
fn unsaved_imports_are_laid_over_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lib.mlp"), "source s = csv(\"s.csv\") {\n  id: int key\n}\n").unwrap();
    let main = uri(&dir, "main.mlp");
    let lib = uri(&dir, "lib.mlp");
    let mut c = Client::start();
    let text = "import \"lib.mlp\"\n\ncheck s {\n  expect unique(id, kind)\n}\n";
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": main, "languageId": "mlp", "version": 1, "text": text } }),
    );
    assert_eq!(c.diagnostics(&main).len(), 1, "`kind` is not on disk yet");
    let unsaved = "source s = csv(\"s.csv\") {\n  id:   int key\n  kind: category\n}\n";
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": lib, "languageId": "mlp", "version": 1, "text": unsaved } }),
    );
    let _ = c.diagnostics(&lib);
    let def = c.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": main }, "position": { "line": 3, "character": 20 } }),
    );
    assert_eq!(def["uri"], lib);
    assert_eq!(def["range"]["start"]["line"], 2, "the unsaved line of `kind`");
    c.notify("textDocument/didSave", json!({ "textDocument": { "uri": main } }));
    assert_eq!(c.diagnostics(&main), Vec::<Value>::new());
}
