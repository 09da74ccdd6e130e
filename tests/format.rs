//! The formatter over every example and case: idempotent, comments kept, meaning kept.

mod common;

use common::*;

#[test]
fn formatting_is_idempotent_and_keeps_comments_and_meaning() {
    let mut files = mlp_files("examples");
    files.extend(mlp_files("tests/cases"));
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let Ok(once) = mlpc_compiler::format::format(&text) else { continue };
        let twice = mlpc_compiler::format::format(&once).unwrap();
        assert_eq!(once, twice, "{f}: not idempotent");
        let comments =
            |t: &str| mlpc_compiler::syntax::comments::scan(t).into_iter().map(|c| c.text).collect::<Vec<_>>();
        assert_eq!(comments(&text), comments(&once), "{f}: comments changed");
        let (before, _) = mlpc_compiler::syntax::parse(&text, mlpc_compiler::FileId(0));
        let (after, _) = mlpc_compiler::syntax::parse(&once, mlpc_compiler::FileId(0));
        let shape = |f: &mlpc_compiler::ast::File| {
            f.items
                .iter()
                .map(|i| (i.kind.keyword(), i.doc.clone(), i.kind.body().map_or(0, |b| b.stmts.len())))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&before), shape(&after), "{f}: structure changed");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} files formatted");
}

#[test]
fn the_churn_example_is_formatted() {
    let text = std::fs::read_to_string("examples/churn/churn.mlp").unwrap();
    assert_eq!(mlpc_compiler::format::format(&text).unwrap(), text);
}
