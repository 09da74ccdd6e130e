//! The LSP loop: document sync, publishing diagnostics, and dispatching requests to
//! the `ide` functions.

use crate::convert::{self, offset, path_of_uri, range, uri_of_path};
use crate::ide;
use crate::overlay::Overlay;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use mlpc_compiler::{analyze, Compilation, FileId, FileSystem};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Serves over stdin/stdout until the client shuts the server down; files that are not
/// open in the editor are read through `disk`.
pub fn run_stdio(disk: Box<dyn FileSystem>) -> Result<(), Error> {
    let (connection, threads) = Connection::stdio();
    serve(connection, disk)?;
    threads.join()?;
    Ok(())
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
            save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
            ..Default::default()
        })),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into(), "[".into(), " ".into()]),
            ..Default::default()
        }),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        signature_help_provider: Some(lsp::SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            ..Default::default()
        }),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
            lsp::SemanticTokensOptions {
                legend: lsp::SemanticTokensLegend {
                    token_types: ide::tokens::LEGEND.iter().map(|t| lsp::SemanticTokenType::new(t)).collect(),
                    token_modifiers: Vec::new(),
                },
                full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// Runs the server on a connection (stdio, or in memory for tests), reading files that
/// are not open through `disk`.
pub fn serve(connection: Connection, disk: Box<dyn FileSystem>) -> Result<(), Error> {
    let (id, _params) = connection.initialize_start()?;
    let result = lsp::InitializeResult {
        capabilities: capabilities(),
        server_info: Some(lsp::ServerInfo { name: "mlpc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let mut server = Server {
        sender: connection.sender.clone(),
        files: Overlay::new(disk),
        published: BTreeSet::new(),
        dirty: BTreeSet::new(),
        cache: RefCell::default(),
        roots: RefCell::default(),
    };
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                let id = req.id.clone();
                let resp = match server.request(req) {
                    Ok(value) => Response::new_ok(id, value),
                    Err((code, message)) => Response::new_err(id, code as i32, message),
                };
                connection.sender.send(Message::Response(resp))?;
            }
            Message::Notification(n) => server.notification(n),
            Message::Response(_) => {}
        }
        if connection.receiver.is_empty() {
            server.flush()?;
        }
    }
    Ok(())
}

struct Server {
    sender: crossbeam_channel::Sender<Message>,
    files: Overlay,
    /// Files that have diagnostics on the client, to clear them when they go away.
    published: BTreeSet<String>,
    /// Files changed since diagnostics were last published; published once the queue of
    /// incoming messages is empty, so a burst of keystrokes costs one compilation.
    dirty: BTreeSet<String>,
    /// The analysis of each program since the last change, shared by every request.
    cache: RefCell<HashMap<String, Arc<Compilation>>>,
    /// Which program each file belongs to (see `Overlay::root_for`).
    roots: RefCell<HashMap<String, String>>,
}

type Reply = Result<serde_json::Value, (ErrorCode, String)>;

fn params<P: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(value).map_err(|e| (ErrorCode::InvalidParams, format!("malformed parameters: {e}")))
}

fn json<T: serde::Serialize>(v: T) -> Reply {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

impl Server {
    fn compile_for(&self, path: &str) -> Arc<Compilation> {
        let root = self.roots.borrow().get(path).cloned();
        let root = root.unwrap_or_else(|| {
            let root = self.files.root_for(path);
            self.roots.borrow_mut().insert(path.to_string(), root.clone());
            root
        });
        if let Some(c) = self.cache.borrow().get(&root) {
            return c.clone();
        }
        let c = Arc::new(analyze(&root, &self.files));
        self.cache.borrow_mut().insert(root, c.clone());
        c
    }

    /// Forgets what a change to `path` may have made stale.
    fn changed(&mut self, path: String) {
        let stale = std::mem::take(self.cache.get_mut());
        if !stale.is_empty() {
            // Freeing a large program's trees takes a while; not on the keystroke's path.
            std::thread::spawn(move || drop(stale));
        }
        if self.files.open.get(&path).is_none_or(|text| text.contains("import")) {
            self.roots.get_mut().clear();
        }
        self.dirty.insert(path);
    }

    fn flush(&mut self) -> Result<(), Error> {
        for path in std::mem::take(&mut self.dirty) {
            self.publish(&path)?;
        }
        Ok(())
    }

    /// The compilation a request's document belongs to, and the document's id in it.
    fn locate(&self, uri: &lsp::Uri) -> Result<(Arc<Compilation>, FileId), (ErrorCode, String)> {
        let path = path_of_uri(uri).ok_or((ErrorCode::InvalidParams, format!("not a file URI: {}", uri.as_str())))?;
        if let Err(e) = self.files.read_to_string(&path) {
            return Err((ErrorCode::RequestFailed, format!("cannot read {path}: {e}")));
        }
        let c = self.compile_for(&path);
        let file = convert::file_id(&c, &path).ok_or((ErrorCode::InvalidParams, format!("cannot read {path}")))?;
        Ok((c, file))
    }

    fn at(
        &self,
        doc: &lsp::TextDocumentPositionParams,
    ) -> Result<(Arc<Compilation>, FileId, usize), (ErrorCode, String)> {
        let (c, file) = self.locate(&doc.text_document.uri)?;
        let off = offset(c.sources.get(file), doc.position);
        Ok((c, file, off))
    }

    fn location(c: &Compilation, file: FileId, span: mlpc_compiler::Span) -> Option<lsp::Location> {
        let f = c.sources.get(file);
        Some(lsp::Location { uri: uri_of_path(&f.path)?, range: range(f, span) })
    }

    // `lsp::Uri` caches its parse inside; keys are never changed once inserted.
    #[allow(clippy::mutable_key_type)]
    fn request(&mut self, req: Request) -> Reply {
        use lsp_types::request::*;
        match req.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp::HoverParams = params(req.params)?;
                let (c, file, off) = self.at(&p.text_document_position_params)?;
                json(ide::hover::hover(&c, file, off).map(|(span, text)| lsp::Hover {
                    contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                        kind: lsp::MarkupKind::Markdown,
                        value: text,
                    }),
                    range: Some(range(c.sources.get(file), span)),
                }))
            }
            GotoDefinition::METHOD => {
                let p: lsp::GotoDefinitionParams = params(req.params)?;
                let (c, file, off) = self.at(&p.text_document_position_params)?;
                json(
                    ide::navigate::definition(&c, file, off)
                        .and_then(|(f, s)| Self::location(&c, f, s))
                        .map(lsp::GotoDefinitionResponse::Scalar),
                )
            }
            References::METHOD => {
                let p: lsp::ReferenceParams = params(req.params)?;
                let (c, file, off) = self.at(&p.text_document_position)?;
                let found = ide::navigate::references(&c, file, off, p.context.include_declaration);
                json(found.into_iter().filter_map(|(f, s)| Self::location(&c, f, s)).collect::<Vec<_>>())
            }
            PrepareRenameRequest::METHOD => {
                let p: lsp::TextDocumentPositionParams = params(req.params)?;
                let (c, file, off) = self.at(&p)?;
                match ide::navigate::prepare_rename(&c, file, off) {
                    Ok((span, placeholder)) => json(lsp::PrepareRenameResponse::RangeWithPlaceholder {
                        range: range(c.sources.get(file), span),
                        placeholder,
                    }),
                    Err(why) => Err((ErrorCode::RequestFailed, why)),
                }
            }
            Rename::METHOD => {
                let p: lsp::RenameParams = params(req.params)?;
                let (c, file, off) = self.at(&p.text_document_position)?;
                let spans =
                    ide::navigate::rename(&c, file, off, &p.new_name).map_err(|why| (ErrorCode::RequestFailed, why))?;
                let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
                for (f, s) in spans {
                    let src = c.sources.get(f);
                    if let Some(uri) = uri_of_path(&src.path) {
                        changes
                            .entry(uri)
                            .or_default()
                            .push(lsp::TextEdit { range: range(src, s), new_text: p.new_name.clone() });
                    }
                }
                json(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() })
            }
            Completion::METHOD => {
                let p: lsp::CompletionParams = params(req.params)?;
                let (c, file, off) = self.at(&p.text_document_position)?;
                let items: Vec<lsp::CompletionItem> =
                    ide::complete::complete(&c, file, off).into_iter().map(completion_item).collect();
                json(lsp::CompletionResponse::Array(items))
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp::DocumentSymbolParams = params(req.params)?;
                let (c, file) = self.locate(&p.text_document.uri)?;
                let src = c.sources.get(file);
                let symbols: Vec<lsp::DocumentSymbol> =
                    ide::outline::outline(&c, file).iter().map(|s| document_symbol(src, s)).collect();
                json(lsp::DocumentSymbolResponse::Nested(symbols))
            }
            Formatting::METHOD => {
                let p: lsp::DocumentFormattingParams = params(req.params)?;
                let (c, file) = self.locate(&p.text_document.uri)?;
                let src = c.sources.get(file);
                match mlpc_compiler::format::format(&src.text) {
                    Ok(out) if out != src.text => json(vec![lsp::TextEdit {
                        range: range(src, mlpc_compiler::Span::new(0, src.text.len())),
                        new_text: out,
                    }]),
                    Ok(_) => json(Vec::<lsp::TextEdit>::new()),
                    Err(_) => {
                        Err((ErrorCode::RequestFailed, "the file has syntax errors; fix them before formatting".into()))
                    }
                }
            }
            SemanticTokensFullRequest::METHOD => {
                let p: lsp::SemanticTokensParams = params(req.params)?;
                let (c, file) = self.locate(&p.text_document.uri)?;
                json(lsp::SemanticTokensResult::Tokens(semantic_tokens(&c, file)))
            }
            SignatureHelpRequest::METHOD => {
                let p: lsp::SignatureHelpParams = params(req.params)?;
                let (c, file, off) = self.at(&p.text_document_position_params)?;
                json(ide::signature::signature_help(&c.sources.get(file).text, off).map(signature))
            }
            CodeActionRequest::METHOD => {
                let p: lsp::CodeActionParams = params(req.params)?;
                let (c, file) = self.locate(&p.text_document.uri)?;
                json(code_actions(&c, file, p.range))
            }
            other => Err((ErrorCode::MethodNotFound, format!("mlpc does not handle `{other}`"))),
        }
    }

    fn notification(&mut self, n: Notification) {
        use lsp_types::notification::*;
        let path = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidOpenTextDocumentParams>(n.params) else { return };
                let Some(path) = path_of_uri(&p.text_document.uri) else { return };
                self.files.open.insert(path.clone(), p.text_document.text);
                path
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidChangeTextDocumentParams>(n.params) else { return };
                let Some(path) = path_of_uri(&p.text_document.uri) else { return };
                let text = self.files.open.entry(path.clone()).or_default();
                for change in p.content_changes {
                    apply(text, change);
                }
                path
            }
            DidSaveTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidSaveTextDocumentParams>(n.params) else { return };
                let Some(path) = path_of_uri(&p.text_document.uri) else { return };
                if let Some(text) = p.text {
                    self.files.open.insert(path.clone(), text);
                }
                path
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp::DidCloseTextDocumentParams>(n.params) else { return };
                let Some(path) = path_of_uri(&p.text_document.uri) else { return };
                self.files.open.remove(&path);
                path
            }
            _ => return,
        };
        self.changed(path);
    }

    /// Publishes diagnostics for every file of the program `path` belongs to.
    fn publish(&mut self, path: &str) -> Result<(), Error> {
        let c = self.compile_for(path);
        let mut by_file: HashMap<FileId, Vec<lsp::Diagnostic>> =
            c.sources.iter().map(|(id, _)| (id, Vec::new())).collect();
        for d in &c.diagnostics {
            by_file.entry(d.primary.file).or_default().push(convert::diagnostic(&c, d));
        }
        let mut ids: Vec<FileId> = by_file.keys().copied().collect();
        ids.sort();
        for id in ids {
            let file = &c.sources.get(id).path;
            let Some(uri) = uri_of_path(file) else { continue };
            let diagnostics = by_file.remove(&id).unwrap_or_default();
            if diagnostics.is_empty() && !self.published.remove(file) && !self.files.open.contains_key(file) {
                continue;
            }
            if !diagnostics.is_empty() {
                self.published.insert(file.clone());
            }
            let params = lsp::PublishDiagnosticsParams { uri, diagnostics, version: None };
            let note = Notification::new(lsp::notification::PublishDiagnostics::METHOD.to_string(), params);
            self.sender.send(Message::Notification(note))?;
        }
        Ok(())
    }
}

/// Applies one incremental (or full) change to a buffer.
fn apply(text: &mut String, change: lsp::TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(r) => {
            let file = mlpc_compiler::source::SourceFile::new("", text.clone());
            let (start, end) = (offset(&file, r.start), offset(&file, r.end));
            text.replace_range(start..end.max(start), &change.text);
        }
    }
}

fn completion_item(i: ide::complete::Item) -> lsp::CompletionItem {
    use ide::complete::Kind;
    lsp::CompletionItem {
        label: i.label,
        kind: Some(match i.kind {
            Kind::Keyword => lsp::CompletionItemKind::KEYWORD,
            Kind::Snippet => lsp::CompletionItemKind::SNIPPET,
            Kind::Column | Kind::Feature => lsp::CompletionItemKind::FIELD,
            Kind::Table => lsp::CompletionItemKind::CLASS,
            Kind::Function => lsp::CompletionItemKind::FUNCTION,
            Kind::Metric | Kind::Value => lsp::CompletionItemKind::ENUM_MEMBER,
            Kind::Type => lsp::CompletionItemKind::TYPE_PARAMETER,
        }),
        detail: i.detail,
        documentation: i.doc.map(|d| {
            lsp::Documentation::MarkupContent(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: d })
        }),
        insert_text: Some(i.insert),
        insert_text_format: Some(if i.snippet {
            lsp::InsertTextFormat::SNIPPET
        } else {
            lsp::InsertTextFormat::PLAIN_TEXT
        }),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn document_symbol(src: &mlpc_compiler::source::SourceFile, s: &ide::outline::Symbol) -> lsp::DocumentSymbol {
    let kind = match s.kind {
        "source" | "dataset" => lsp::SymbolKind::CLASS,
        "features" => lsp::SymbolKind::INTERFACE,
        "model" => lsp::SymbolKind::OBJECT,
        "column" | "feature" => lsp::SymbolKind::FIELD,
        "pipeline" => lsp::SymbolKind::MODULE,
        "import" => lsp::SymbolKind::PACKAGE,
        _ => lsp::SymbolKind::EVENT,
    };
    lsp::DocumentSymbol {
        name: s.name.clone(),
        detail: Some(s.kind.to_string()),
        kind,
        tags: None,
        deprecated: None,
        range: range(src, s.span),
        selection_range: range(src, s.name_span),
        children: (!s.children.is_empty()).then(|| s.children.iter().map(|c| document_symbol(src, c)).collect()),
    }
}

fn semantic_tokens(c: &Compilation, file: FileId) -> lsp::SemanticTokens {
    let src = c.sources.get(file);
    let mut data = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for t in ide::tokens::tokens(c, file) {
        let start = convert::position(src, t.span.start);
        let end = convert::position(src, t.span.end);
        if end.line != start.line {
            continue;
        }
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        data.push(lsp::SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type: t.kind,
            token_modifiers_bitset: 0,
        });
        (line, col) = (start.line, start.character);
    }
    lsp::SemanticTokens { result_id: None, data }
}

fn signature(h: ide::signature::Help) -> lsp::SignatureHelp {
    let parameters = h
        .params
        .iter()
        .map(|(s, e, doc)| lsp::ParameterInformation {
            label: lsp::ParameterLabel::LabelOffsets([
                h.label[..*s].encode_utf16().count() as u32,
                h.label[..*e].encode_utf16().count() as u32,
            ]),
            documentation: doc.clone().map(lsp::Documentation::String),
        })
        .collect();
    lsp::SignatureHelp {
        signatures: vec![lsp::SignatureInformation {
            label: h.label,
            documentation: h.doc.map(lsp::Documentation::String),
            parameters: Some(parameters),
            active_parameter: Some(h.active as u32),
        }],
        active_signature: Some(0),
        active_parameter: Some(h.active as u32),
    }
}

/// "Did you mean" fixes of diagnostics in the requested range, as quick fixes.
#[allow(clippy::mutable_key_type)]
fn code_actions(c: &Compilation, file: FileId, r: lsp::Range) -> Vec<lsp::CodeActionOrCommand> {
    let src = c.sources.get(file);
    let (start, end) = (offset(src, r.start), offset(src, r.end));
    c.diagnostics
        .iter()
        .filter(|d| d.primary.file == file && d.primary.span.start <= end && start <= d.primary.span.end)
        .filter_map(|d| {
            let fix = d.fix.as_ref()?;
            let fsrc = c.sources.get(fix.file);
            let uri = uri_of_path(&fsrc.path)?;
            let edit = lsp::TextEdit { range: range(fsrc, fix.span), new_text: fix.replacement.clone() };
            Some(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: fix.title.clone(),
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert::diagnostic(c, d)]),
                edit: Some(lsp::WorkspaceEdit {
                    changes: Some(HashMap::from([(uri, vec![edit])])),
                    ..Default::default()
                }),
                is_preferred: Some(true),
                ..Default::default()
            }))
        })
        .collect()
}
