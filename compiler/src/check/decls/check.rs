//! `check` blocks: expectations on a source.

use super::*;
use crate::check::expr::{Ctx, Deps, Val};
use crate::types::Type;

impl Checker<'_> {
    pub(in crate::check) fn check_block(&mut self, file: FileId, item: &Item, target: &Ident, body: &Body) {
        if !self.lookup(file, target, "source") {
            return;
        }
        let mut expectations = Vec::new();
        let keys = self.keys(file, Some(body), "a `check` block", block_keys("check"), |c, s| {
            if let StmtKind::Expect { expr } = &s.kind {
                let mut deps = Deps::default();
                let (v, t) = c.expr(file, expr, Ctx::Check { table: &target.name }, &mut deps);
                if let Val::Scalar(ty) = v {
                    if !Type::Bool.accepts(ty) {
                        c.mismatch(
                            file,
                            expr,
                            format!("an expectation must be a condition, this is `{ty}`"),
                            "not true or false",
                        );
                    }
                }
                let text = c.text(file, expr.span).to_string();
                expectations.push(Expectation {
                    text,
                    level: if deps.row_columns { Level::Row } else { Level::Table },
                    expr: t,
                });
            } else {
                c.misplaced(file, s, "a `check` block", "`expect` lines and `on_fail`");
            }
        });
        let on_fail = keys
            .get("on_fail")
            .and_then(|e| self.word(file, e, "on_fail", &["stop", "warn"]))
            .unwrap_or_else(|| "stop".into());
        if expectations.is_empty() && !body.stmts.iter().any(|s| matches!(s.kind, StmtKind::Error { .. })) {
            self.missing(file, body.span, "a `check`", "expect", "expect row_count() > 0");
        }
        self.a.checks.push(CheckInfo {
            source: target.name.clone(),
            site: self.site(file, target.span, item),
            expectations,
            on_fail,
        });
    }
}
