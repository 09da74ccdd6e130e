//! Text → syntax tree: the grammar, comment scanning and recovery.

pub mod ast;
pub mod comments;
mod parse;

pub use parse::parse;

/// The words that start a top-level declaration.
pub const DECLARATION_KEYWORDS: &[&str] = &[
    "pipeline", "import", "source", "check", "features", "dataset", "model", "evaluate", "register", "serve",
    "monitor", "score",
];

/// Every word the grammar gives a meaning: a name can never be one of these.
pub const KEYWORDS: &[&str] = &[
    "pipeline",
    "import",
    "source",
    "check",
    "features",
    "dataset",
    "model",
    "evaluate",
    "register",
    "serve",
    "monitor",
    "score",
    "on",
    "with",
    "as",
    "key",
    "time",
    "references",
    "expect",
    "slice",
    "by",
    "promote",
    "to",
    "when",
    "rollback",
    "alert",
    "then",
    "retrain",
    "and",
    "or",
    "not",
    "between",
    "over",
    "true",
    "false",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn churn_example_parses_clean() {
        let text = include_str!("../../../examples/churn/churn.mlp");
        let (file, diags) = parse(text, FileId(0));
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(file.items.len(), 11);
        assert_eq!(file.items[0].doc.as_deref(), Some("Predicts which customers will cancel in the next 30 days."));
    }

    #[test]
    fn three_broken_blocks_give_three_errors_and_keep_the_rest() {
        let text = "source a = csv(\"a.csv\") {\n  x: int key\n  y int\n}\n\
                    check a {\n  expect unique(x\n}\n\
                    model m = mlp() {\n  train = = d.train\n  cv = 3\n}\n\
                    dataset d = a { label = x }\n";
        let (file, diags) = parse(text, FileId(0));
        assert_eq!(diags.len(), 3, "{diags:#?}");
        assert_eq!(file.items.len(), 4);
        assert!(matches!(file.items[3].kind, ast::ItemKind::Dataset { .. }));
    }
}
