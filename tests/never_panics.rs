//! No input panics the compiler: random bytes and random mutations of the examples go
//! through parsing, checking, lowering and formatting; formatting is idempotent.

mod common;

use mlpc_compiler::{compile, FileSystem};
use proptest::prelude::*;

/// The program as `main.mlp`; any import reads `lib.mlp`, which is the same text reversed.
struct Memory(String);

impl FileSystem for Memory {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        match path {
            "main.mlp" => Ok(self.0.clone()),
            "lib.mlp" => Ok(self.0.chars().rev().collect()),
            _ => Err("not found".into()),
        }
    }
}

fn exercise(text: &str) {
    let c = compile("main.mlp", &Memory(text.to_string()));
    if let Some(plan) = &c.plan {
        let _ = (plan.to_json(), plan.to_text(), plan.to_dot(), plan.to_mermaid());
    }
    for d in &c.diagnostics {
        let f = c.sources.get(d.primary.file);
        assert!(d.primary.span.end <= f.text.len(), "span past the end of {}", f.path);
        let _ = f.line_col(d.primary.span.end);
    }
    if let Ok(once) = mlpc_compiler::format::format(text) {
        let twice = mlpc_compiler::format::format(&once).expect("formatted output parses");
        assert_eq!(twice, once, "formatting is idempotent");
    }
}

fn seeds() -> Vec<String> {
    let mut files = common::mlp_files("examples");
    files.extend(common::mlp_files("tests/cases"));
    files.into_iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
}

/// One edit: delete, duplicate or replace a span, or insert a fragment of the language.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, &'static str),
}

const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "//",
    "///",
    "=",
    ":",
    ",",
    ".",
    "%",
    "\n",
    "over 1d",
    "between",
    "and",
    "not",
    "source x = csv(\"a\") {",
    "features f on",
    "model m = mlp() {",
    "expect ",
    "promote to",
    "alert when",
    "then retrain",
    "99999999999999999999",
    "1e999",
    "0ms",
    "é",
    "\u{feff}",
    "\t",
    ";",
    "key",
    "time",
    "references a.b",
    "import \"lib.mlp\"",
    "import \"main.mlp\"",
    "((((((((",
    "-----",
    "not not not",
];

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    for e in edits {
        let clamp = |i: usize, s: &str| {
            let mut i = i % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match *e {
            Edit::Delete(a, len) => {
                let a = clamp(a, &s);
                let b = clamp(a + len % 40, &s).max(a);
                s.replace_range(a..b, "");
            }
            Edit::Duplicate(a, len) => {
                let a = clamp(a, &s);
                let b = clamp(a + len % 80, &s).max(a);
                let piece = s[a..b].to_string();
                s.insert_str(b, &piece);
            }
            Edit::Insert(a, frag) => {
                let a = clamp(a, &s);
                s.insert_str(a, frag);
            }
        }
    }
    s
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Edit::Delete(a, l)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Edit::Duplicate(a, l)),
        (any::<usize>(), prop::sample::select(FRAGMENTS)).prop_map(|(a, f)| Edit::Insert(a, f)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_never_panics(text in "[a-z_ {}()\\[\\]=:,.%\"/\n0-9<>+*-]{0,300}") {
        exercise(&text);
    }

    #[test]
    fn mutated_examples_never_panic(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        let base = &seeds[seed.index(seeds.len())];
        exercise(&apply(base, &edits));
    }
}

#[test]
fn pathological_inputs() {
    exercise(&"(".repeat(100_000));
    exercise(&format!("features f on c {{ x: int = {} }}", "1 + ".repeat(50_000) + "1"));
    exercise(&format!("features f on c {{ x: int = {}1 }}", "-".repeat(50_000)));
    exercise(&format!("features f on c {{ x: bool = {}true }}", "not ".repeat(20_000)));
    exercise(&"\"".repeat(10_001));
    exercise("");
    exercise("\u{0}\u{1}\u{7f}");
}

#[test]
fn unclosed_braces_parse_in_linear_time() {
    for text in [format!("x {}\n", "{".repeat(200)), format!("check a {{\n  x {}\n}}\n", "{".repeat(60))] {
        let start = std::time::Instant::now();
        exercise(&text);
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "took {:?}", start.elapsed());
    }
}

/// Every import resolves to a new, deeper path (`a/b.mlp` inside `a/`): loading stops.
struct Growing;

impl FileSystem for Growing {
    fn read_to_string(&self, _: &str) -> Result<String, String> {
        Ok("import \"a/b.mlp\"\nimport \"c/b.mlp\"\n".into())
    }
}

#[test]
fn imports_that_never_end_are_cut_off() {
    let c = compile("main.mlp", &Growing);
    assert!(c.sources.iter().count() <= 1001);
    assert!(c.diagnostics.iter().any(|d| d.message.contains("imports go too deep")));
}
