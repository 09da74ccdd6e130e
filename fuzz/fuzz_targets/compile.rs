//! Fuzzes the whole compiler: parse, check, plan lowering and rendering, plus the
//! formatter's idempotence. Any panic is a bug (the compiler must never panic), and so
//! is a formatter whose output formats differently a second time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlpc_compiler::{compile, format, FileSystem};

/// `main.mlp` is the whole input; any other path (the target of an import) reads as the
/// second half of the input, or fails when that half is empty, so both the import
/// resolution and its error path are reached. A model file (`onnx("…")`) reads as the
/// second half of the raw bytes, so the ONNX decoder sees arbitrary bytes too.
struct Mem<'a> {
    main: &'a str,
    other: &'a str,
    model: &'a [u8],
}

impl FileSystem for Mem<'_> {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        if path == "main.mlp" {
            Ok(self.main.to_string())
        } else if self.other.is_empty() {
            Err(format!("no such file: {path}"))
        } else {
            Ok(self.other.to_string())
        }
    }

    fn read_model(&self, path: &str) -> Option<Result<Vec<u8>, String>> {
        Some(if self.model.is_empty() { Err(format!("no such file: {path}")) } else { Ok(self.model.to_vec()) })
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid += 1;
    }
    let fs = Mem { main: text, other: &text[mid..], model: &data[data.len() / 2..] };

    let compilation = compile("main.mlp", &fs);
    for d in &compilation.diagnostics {
        let _ = format!("{d:?}");
    }
    if let Some(plan) = &compilation.plan {
        let _ = plan.to_json();
        let _ = plan.to_text();
        let _ = plan.to_dot();
        let _ = plan.to_mermaid();
    }

    if let Ok(once) = format::format(text) {
        match format::format(&once) {
            Ok(twice) => assert_eq!(once, twice, "the formatter is not idempotent"),
            Err(diags) => panic!("formatted output does not parse again: {diags:?}\n--- output ---\n{once}"),
        }
    }
});
