//! One checking function per declaration kind, a file per kind; the helpers here are
//! shared by several kinds.

mod check;
mod dataset;
mod evaluate;
mod features;
mod model;
mod monitor;
mod pipeline;
mod register;
mod score;
mod serve;
mod source;
mod trainer;

use super::expr::Val;
use super::*;
use crate::ast::StrLit;
use crate::types::Type;

const STAGES: &[&str] = &["staging", "production"];

impl Checker<'_> {
    fn site(&self, file: FileId, span: Span, item: &Item) -> Site {
        Site { file, span, doc: item.doc.clone() }
    }

    fn condition(&mut self, file: FileId, cond: &Expr, v: &Val) {
        if let Val::Scalar(ty) = v {
            if !Type::Bool.accepts(*ty) {
                self.mismatch(
                    file,
                    cond,
                    format!("a condition must be true or false, this is `{ty}`"),
                    "not a condition",
                );
            }
        }
    }

    /// The model behind a registered name.
    fn registered_model(&mut self, file: FileId, name: &StrLit) -> Option<ModelInfo> {
        match self.registered.get(&name.value) {
            Some((model, _, _)) => {
                let model = model.clone();
                self.a.references.push(Reference {
                    file,
                    span: name.span,
                    target: Target::Registered { name: name.value.clone() },
                });
                self.model_info(&model).cloned()
            }
            None => {
                let names: Vec<String> = self.registered.keys().cloned().collect();
                self.unknown(file, name.span, "registered model", &name.value, names.iter().map(String::as_str));
                None
            }
        }
    }
}
