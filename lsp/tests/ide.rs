//! The editor features as pure functions, on fixtures with a `$0` cursor marker.

use mlpc_compiler::{compile, Compilation, FileId, FileSystem};
use mlpc_lsp::ide;
use std::collections::HashMap;

struct Files(HashMap<String, String>);

impl FileSystem for Files {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        self.0.get(path).cloned().ok_or_else(|| "not found".to_string())
    }
}

const CHURN: &str = include_str!("../../examples/churn/churn.mlp");

/// Compiles `main.mlp` (with `$0` removed) plus extra files; returns the cursor offset.
fn fixture(main: &str, extra: &[(&str, &str)]) -> (Compilation, FileId, usize) {
    let offset = main.find("$0").expect("fixture has a $0 cursor");
    let mut files: HashMap<String, String> = extra.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    files.insert("main.mlp".into(), main.replacen("$0", "", 1));
    let c = compile("main.mlp", &Files(files));
    let file = c.sources.find("main.mlp").unwrap();
    (c, file, offset)
}

/// The churn example with the cursor put before the `nth` occurrence of `needle`.
fn churn_at(needle: &str, nth: usize) -> (Compilation, FileId, usize) {
    let at = CHURN.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("{needle} #{nth}")).0;
    fixture(&format!("{}$0{}", &CHURN[..at], &CHURN[at..]), &[])
}

fn labels(items: &[ide::complete::Item]) -> Vec<&str> {
    items.iter().map(|i| i.label.as_str()).collect()
}

#[test]
fn hover_shows_types_docs_and_signatures() {
    let (c, f, o) = churn_at("monthly_spend, support_tickets, tenure_months]", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    insta::assert_snapshot!("hover_column", text);

    let (c, f, o) = churn_at("gradient_boosting", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.contains("trees: int = 100") && text.contains("Number of boosting rounds"), "{text}");
    insta::assert_snapshot!("hover_algorithm", text);

    let (c, f, o) = churn_at("churn {", 0);
    assert!(ide::hover::hover(&c, f, o).is_none(), "the pipeline name is not a resolved symbol yet");

    let (c, f, o) = churn_at("customer_features + [", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.contains("features customer_features on customers") && text.contains("spend_90d: float"), "{text}");

    let (c, f, o) = churn_at("(support_tickets + 1)", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.ends_with("`int`"), "expression type: {text}");
}

#[test]
fn definition_and_references_cross_imports() {
    let lib = "/// Accounts.\nsource accounts = csv(\"a.csv\") {\n  id:    int key\n  kind:  category\n  spend: float\n  y:     bool\n}\n";
    let main =
        "import \"lib.mlp\"\n\ncheck acc$0ounts {\n  expect unique(id)\n}\n\ndataset d = accounts {\n  label = y\n}\n";
    let (c, f, o) = fixture(main, &[("lib.mlp", lib)]);
    assert!(c.diagnostics.iter().all(|d| !d.is_error()), "{:?}", c.diagnostics);
    let (df, span) = ide::navigate::definition(&c, f, o).unwrap();
    assert_eq!(c.sources.get(df).path, "lib.mlp");
    assert_eq!(&c.sources.get(df).text[span.start..span.end], "accounts");
    let refs = ide::navigate::references(&c, f, o, true);
    let places: Vec<(String, String)> = refs
        .iter()
        .map(|(file, s)| {
            let src = c.sources.get(*file);
            (src.path.clone(), format!("{}:{}", src.line_col(s.start).line, src.line_col(s.start).column))
        })
        .collect();
    insta::assert_debug_snapshot!("references_across_files", places);
    assert_eq!(ide::navigate::references(&c, f, o, false).len(), refs.len() - 1);
}

#[test]
fn rename_edits_every_use_and_refuses_keywords_and_collisions() {
    let (c, f, o) = churn_at("orders.amount) over", 0);
    let edits = ide::navigate::rename(&c, f, o, "purchases").unwrap();
    assert_eq!(
        edits.len(),
        5,
        "declaration, count(orders), mean(orders.amount), sum(orders.amount), max(orders.ts): {edits:?}"
    );
    let mut text = CHURN.to_string();
    let mut spans: Vec<_> = edits.iter().map(|(_, s)| *s).collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.start));
    for s in spans {
        text.replace_range(s.start..s.end, "purchases");
    }
    assert!(
        !text.contains("(orders") && text.contains("source purchases") && text.contains("max(purchases.ts)"),
        "every use renamed"
    );
    assert!(ide::navigate::rename(&c, f, o, "source").unwrap_err().contains("keyword"));
    assert!(ide::navigate::rename(&c, f, o, "customers").unwrap_err().contains("already declared"));
    assert!(ide::navigate::rename(&c, f, o, "9lives").unwrap_err().contains("not a name"));
    let (c, f, o) = churn_at("gradient_boosting", 0);
    assert!(ide::navigate::prepare_rename(&c, f, o).unwrap_err().contains("built-in"));
}

#[test]
fn completion_knows_its_context() {
    let top = fixture("source a = csv(\"a\") {\n  id: int key\n}\n\n$0", &[]);
    let items = ide::complete::complete(&top.0, top.1, top.2);
    assert!(labels(&items).contains(&"features") && labels(&items).contains(&"monitor"), "{:?}", labels(&items));

    let (c, f, o) = churn_at("  device = auto", 0);
    let items = ide::complete::complete(&c, f, o);
    assert_eq!(labels(&items), ["train", "inputs", "device", "cv", "schema"]);

    let (c, f, o) = churn_at("amount)\n", 0);
    let items = ide::complete::complete(&c, f, o);
    assert_eq!(labels(&items), ["order_id", "customer_id", "amount", "ts"], "columns after `orders.`");

    let (c, f, o) = churn_at("accuracy, auc", 0);
    let items = ide::complete::complete(&c, f, o);
    let names = labels(&items);
    assert!(names.contains(&"auc") && names.contains(&"f1"), "{names:?}");
    assert!(!names.contains(&"rmse"), "regression metrics are not offered for a classifier: {names:?}");

    let (c, f, o) = churn_at("gradient_boosting(", 0);
    let items = ide::complete::complete(&c, f, o);
    let gb = items.iter().find(|i| i.label == "gradient_boosting").unwrap();
    assert!(gb.snippet && gb.insert.contains("trees = ${1:100}"), "{}", gb.insert);
    assert!(labels(&items).contains(&"onnx"));

    let (c, f, o) = churn_at("p99_latency < 50ms", 0);
    let items = ide::complete::complete(&c, f, o);
    assert!(
        labels(&items).contains(&"error_rate") && !labels(&items).contains(&"auc"),
        "canary gates see serving metrics only"
    );

    let (c, f, o) = churn_at("monthly_spend, psi)", 0);
    let items = ide::complete::complete(&c, f, o);
    assert!(
        labels(&items).contains(&"tenure_months") && !labels(&items).contains(&"churned"),
        "drift columns are model inputs"
    );
    insta::assert_debug_snapshot!("completion_drift_columns", labels(&items));
}

#[test]
fn a_syntax_error_in_one_block_leaves_the_others_working() {
    let broken = CHURN.replacen("expect unique(customer_id)", "expect unique(customer_id", 1);
    let at = broken.find("monthly_spend, support_tickets").unwrap();
    let (c, f, o) = fixture(&format!("{}$0{}", &broken[..at], &broken[at..]), &[]);
    assert_eq!(c.diagnostics.iter().filter(|d| d.is_error()).count(), 1, "{:?}", c.diagnostics);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.contains("monthly_spend: float"), "{text}");
    assert!(!ide::complete::complete(&c, f, o).is_empty());
    assert!(ide::navigate::definition(&c, f, o).is_some());
}

#[test]
fn outline_lists_declarations_with_columns() {
    let (c, f, _) = churn_at("pipeline", 0);
    let symbols = ide::outline::outline(&c, f);
    let shape: Vec<String> = symbols.iter().map(|s| format!("{} {} ({})", s.kind, s.name, s.children.len())).collect();
    insta::assert_debug_snapshot!("outline", shape);
}

#[test]
fn semantic_tokens_classify_names_by_what_they_are() {
    let (c, f, _) = churn_at("pipeline", 0);
    let tokens = ide::tokens::tokens(&c, f);
    let text = &c.sources.get(f).text;
    let kind_of = |needle: &str, skip: usize| {
        let at = text.find(needle).unwrap() + skip;
        let t = tokens.iter().find(|t| t.span.start == at).unwrap_or_else(|| panic!("no token in {needle}"));
        ide::tokens::LEGEND[t.kind as usize]
    };
    assert_eq!(kind_of("source", 0), "keyword");
    assert_eq!(kind_of("count(orders)", 6), "class", "a use of a source");
    assert_eq!(kind_of("mean(orders.amount)", 12), "property", "a column in an expression");
    assert_eq!(kind_of("count(orders)", 0), "function");
    assert_eq!(kind_of("auc >=", 0), "enumMember");
    assert_eq!(kind_of("// nightly", 0), "comment");
    assert_eq!(kind_of("over 90d", 5), "number");
    assert_eq!(kind_of("\"data/orders.parquet\"", 0), "string");
    let mut last = 0;
    for t in &tokens {
        assert!(t.span.start >= last, "tokens are ordered and do not overlap");
        last = t.span.end;
    }
}

#[test]
fn signature_help_tracks_the_argument() {
    let text = "features f on c {\n  x: int = days_between(max(orders.ts), ";
    let help = ide::signature::signature_help(text, text.len()).unwrap();
    assert_eq!(help.label, "days_between(start: temporal, end: temporal) -> int");
    assert_eq!(help.active, 1);
    let inner = "x = sum(";
    assert_eq!(ide::signature::signature_help(inner, inner.len()).unwrap().active, 0);
    assert!(ide::signature::signature_help("x = foo(", 8).is_none());
}

#[test]
fn did_you_mean_fixes_are_offered() {
    let typo = CHURN.replacen("metrics  = [accuracy, auc", "metrics  = [accuracy, acu", 1).replacen(
        "metrics = [accuracy, auc",
        "metrics = [accuracy, acu",
        1,
    );
    let (c, _, _) = fixture(&format!("$0{typo}"), &[]);
    let fix = c.diagnostics.iter().find_map(|d| d.fix.as_ref()).expect("a fix");
    assert_eq!(fix.replacement, "auc");
    assert_eq!(&c.sources.get(fix.file).text[fix.span.start..fix.span.end], "acu");
}

#[test]
fn hover_on_named_arguments_shows_the_parameter() {
    let (c, f, o) = churn_at("trees = 200", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.contains("trees: int = 100") && text.contains("Number of boosting rounds"), "{text}");
    let (c, f, o) = churn_at("seed = 42", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.contains("random(seed: int = 42)"), "{text}");
    let (c, f, o) = churn_at("test = 20%", 0);
    let (_, text) = ide::hover::hover(&c, f, o).unwrap();
    assert!(text.contains("share of rows in split `test`"), "{text}");
}

#[test]
fn snapshots_of_signature_help_tokens_and_rename() {
    let text = "features f on c {\n  x: int = days_between(max(orders.ts), ";
    let help = ide::signature::signature_help(text, text.len()).unwrap();
    insta::assert_snapshot!(
        "signature_days_between",
        format!("{}\nactive: {}\ndoc: {:?}", help.label, help.active, help.doc)
    );

    let (c, f, _) = fixture(
        "source s = csv(\"s.csv\") {\n  id: int key // the key\n}\n\ncheck s {\n  expect unique(id)$0\n}\n",
        &[],
    );
    let text = &c.sources.get(f).text;
    let tokens: Vec<String> = ide::tokens::tokens(&c, f)
        .iter()
        .map(|t| format!("{} {}", &text[t.span.start..t.span.end], ide::tokens::LEGEND[t.kind as usize]))
        .collect();
    insta::assert_debug_snapshot!("tokens_small", tokens);

    let (c, f, o) = churn_at("churn_data = customers", 0);
    let edits = ide::navigate::rename(&c, f, o, "customer_rows").unwrap();
    let places: Vec<String> = edits
        .iter()
        .map(|(file, s)| {
            let lc = c.sources.get(*file).line_col(s.start);
            format!("{}:{} {}", lc.line, lc.column, &c.sources.get(*file).text[s.start..s.end])
        })
        .collect();
    insta::assert_debug_snapshot!("rename_dataset", places);
}
