//! The one diagnostic type: every phase reports through it, every output format renders it.

use crate::source::{FileId, Span};
use serde::Serialize;

macro_rules! codes {
    ($($code:ident $severity:ident $name:literal $title:literal;)*) => {
        /// A stable diagnostic code. Each has a page under `docs/errors/`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($code,)* }

        impl Code {
            /// Every registered code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            /// `E0001`, `W0001`, …
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code),)* }
            }
            /// A short kebab-case name, used as the SARIF rule name.
            pub fn name(self) -> &'static str {
                match self { $(Code::$code => $name,)* }
            }
            /// One line saying what the code is about.
            pub fn title(self) -> &'static str {
                match self { $(Code::$code => $title,)* }
            }
            pub fn severity(self) -> Severity {
                match self { $(Code::$code => Severity::$severity,)* }
            }
            /// The error page, as embedded in the compiler.
            pub fn page(self) -> &'static str {
                match self { $(Code::$code => include_str!(concat!("../../docs/errors/", stringify!($code), ".md")),)* }
            }
        }
    };
}

codes! {
    E0001 Error "syntax-error" "The text does not follow the .mlp grammar";
    E0002 Error "unknown-name" "A name that is not declared anywhere in scope";
    E0003 Error "duplicate-name" "A name or key declared twice";
    E0004 Error "type-mismatch" "An expression whose type does not fit where it is used";
    E0005 Error "no-key-path" "An aggregation over a table with no key path to the entity";
    E0006 Error "label-leakage" "The label, or something computed from it, is a model input";
    E0007 Error "time-leakage" "A join or window that can see rows from after the entity's time";
    E0008 Error "metric-task-mismatch" "A metric or algorithm that does not apply to the model's task";
    E0009 Error "metric-not-evaluated" "A promotion rule on a metric no evaluation produces";
    E0010 Error "unobservable-metric" "A serving or alert condition on a metric the serving path cannot observe";
    E0011 Error "drift-column-not-input" "A drift monitor on a column the served model does not take";
    E0012 Error "bad-traffic-steps" "Canary traffic steps that do not increase or exceed 100%";
    E0013 Error "bad-cron" "A schedule that is not a valid cron expression";
    E0014 Error "cycle" "A cycle in the data flow";
    E0015 Error "misplaced-statement" "A statement or key that does not belong in this block";
    E0016 Error "missing-required" "A block lacks a key it needs";
    E0017 Error "bad-arguments" "A call with the wrong number or kind of arguments";
    E0018 Error "import-failed" "An imported file cannot be read";
    E0019 Error "invalid-value" "A value outside what the key accepts";
    E0020 Error "unaggregated-column" "A column of a related table used without an aggregation";
    E0021 Error "stdlib-only" "A declaration kind that only the standard library may use";
    E0022 Error "out-of-range" "An algorithm parameter outside the range its declaration gives";
    E0023 Error "onnx-mismatch" "An onnx() model file that is not ONNX or whose inputs disagree with the declaration";
    E0024 Error "promotion-on-training-data" "A promotion rule that reads only metrics computed on the model's own training data";
    E0025 Error "score-input-incomplete" "A score job's input lacks the entity key, or a model input that no feature view can fill";
    W0001 Warning "unused-declaration" "A declaration nothing uses";
    W0002 Warning "model-file-missing" "An onnx() model file that is not there at check time";
    W0003 Warning "unwatched-traffic" "A monitor whose window is shorter than its interval, so some requests are never checked";
}

impl Code {
    /// Looks a code up by its text, case-insensitively.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span in a file, with what to say about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

/// A machine-applicable edit, e.g. the "did you mean" replacement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub title: String,
    pub file: FileId,
    pub span: Span,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label { file, span, message: String::new() },
            secondary: Vec::new(),
            help: None,
            fix: None,
        }
    }
    /// The text under the primary caret.
    pub fn label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }
    pub fn secondary(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { file, span, message: message.into() });
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn fix(mut self, title: impl Into<String>, span: Span, replacement: impl Into<String>) -> Self {
        self.fix = Some(Fix { title: title.into(), file: self.primary.file, span, replacement: replacement.into() });
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest candidate to `name`, for "did you mean": fewest edits first (a swap of
/// two letters is one edit), then Jaro–Winkler similarity; a name that starts the other
/// (`f1` in `f1_score`) counts as close. None when nothing is close.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let budget = (lower.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .filter_map(|c| {
            let other = c.to_lowercase();
            let edits = strsim::osa_distance(&lower, &other);
            let similar = strsim::jaro_winkler(&lower, &other);
            let prefix =
                other.len() >= 2 && lower.len() >= 2 && (other.starts_with(&lower) || lower.starts_with(&other));
            (edits <= budget || similar >= 0.9 || prefix).then_some((edits, similar, c))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(b.2)))
        .map(|(_, _, c)| c)
}
