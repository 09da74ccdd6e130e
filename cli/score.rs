//! `mlpc score`: one file scored with the registered version at a stage.

use mlpc::commands::{emit, fail};
use std::path::Path;

pub fn score(name: &str, stage: &str, input: &str, output: &str, state: &str) -> u8 {
    match mlpc_runtime::scoring::one_off(Path::new(state), name, stage, Path::new(input), Path::new(output)) {
        Ok(done) => {
            let filled: Vec<String> =
                done.filled.iter().map(|(view, names)| format!("; filled from {view}: {}", names.join(", "))).collect();
            emit(&format!(
                "{} rows scored by {name} v{} ({stage}) into {output}{}\n",
                done.rows,
                done.version,
                filled.concat()
            ));
            0
        }
        Err(e) => fail(e),
    }
}
