//! Every registered code has a page under docs/errors/ with a wrong example that
//! triggers exactly that code and a right example that checks clean, and at least
//! one err case in tests/cases/err/ triggers it.

mod common;

use mlpc_compiler::{compile, Code, FileSystem};

struct One(String);

impl FileSystem for One {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        if path == "example.mlp" {
            Ok(self.0.clone())
        } else {
            Err("No such file or directory".into())
        }
    }
    /// The pages' `onnx("models/…")` files are the err cases' fixtures.
    fn read_model(&self, path: &str) -> Option<Result<Vec<u8>, String>> {
        Some(std::fs::read(format!("tests/cases/err/{path}")).map_err(|e| e.to_string()))
    }
}

/// The first ```mlp block after `heading`.
fn block(page: &str, heading: &str) -> Option<String> {
    let after = &page[page.find(heading)? + heading.len()..];
    let start = after.find("```mlp\n")? + "```mlp\n".len();
    let end = after[start..].find("```")?;
    Some(after[start..start + end].to_string())
}

fn codes_of(text: &str) -> Vec<Code> {
    compile("example.mlp", &One(text.to_string())).diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn every_code_has_a_page_with_a_wrong_and_a_right_example() {
    let mut problems = Vec::new();
    for code in Code::ALL {
        let path = format!("docs/errors/{}.md", code.as_str());
        let page = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(page, code.page(), "{path} is embedded as it is on disk");
        if !page.starts_with(&format!("# {}: ", code.as_str())) {
            problems.push(format!("{path}: must start with `# {}: title`", code.as_str()));
            continue;
        }
        match (block(&page, "## Wrong"), block(&page, "## Right")) {
            (Some(wrong), Some(right)) => {
                let got = codes_of(&wrong);
                if got.is_empty() || got.iter().any(|c| c != code) {
                    problems.push(format!("{path}: the wrong example gives {got:?}, not only {code:?}"));
                }
                let got = codes_of(&right);
                if !got.is_empty() {
                    problems.push(format!("{path}: the right example gives {got:?}"));
                }
            }
            _ => problems.push(format!("{path}: needs ```mlp blocks under `## Wrong` and `## Right`")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_code_has_an_err_case() {
    let mut seen = std::collections::BTreeSet::new();
    for f in common::mlp_files("tests/cases/err") {
        let text = std::fs::read_to_string(&f).unwrap();
        seen.extend(common::expected_codes(&text));
    }
    let missing: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "codes without an err case: {missing:?}");
}
