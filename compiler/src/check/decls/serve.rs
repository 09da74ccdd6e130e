//! `serve` blocks and their canary.

use super::*;
use crate::ast::StrLit;
use crate::check::expr::{Ctx, Deps};

impl Checker<'_> {
    pub(in crate::check) fn serve(&mut self, file: FileId, item: &Item, registered: &StrLit, body: Option<&Body>) {
        if let Some(prev) = self.serve_info(&registered.value) {
            let (f, s) = (prev.site.file, prev.site.span);
            self.diags.push(
                Diagnostic::new(Code::E0003, file, registered.span, format!("`{}` is served twice", registered.value))
                    .label("served again here")
                    .secondary(f, s, "first served here")
                    .help("serve each registered model once; put the canary, shadow and fallback in that one block"),
            );
            return;
        }
        let model = self.registered_model(file, registered);
        let mut canary: Option<(Span, CanaryDef)> = None;
        let keys = self.keys(file, body, "a `serve` block", block_keys("serve"), |c, s| match &s.kind {
            StmtKind::Block { name, body } if name.name == "canary" => {
                if let Some((prev, _)) = &canary {
                    let prev = *prev;
                    c.diags.push(
                        Diagnostic::new(Code::E0003, file, name.span, "a serve block has one canary")
                            .label("second canary")
                            .secondary(file, prev, "first canary")
                            .help("merge the two blocks"),
                    );
                } else {
                    canary = c.canary(file, name, body).map(|ci| (name.span, ci));
                }
            }
            _ => c.misplaced(
                file,
                s,
                "a `serve` block",
                "`stage`, `features`, `shadow`, `fallback` and a `canary { … }` block",
            ),
        });
        let stage =
            keys.get("stage").and_then(|e| self.word(file, e, "stage", STAGES)).unwrap_or_else(|| "production".into());
        let shadow = keys.get("shadow").and_then(|e| self.word(file, e, "shadow", STAGES));
        if shadow.as_deref() == Some(stage.as_str()) {
            self.err(
                Code::E0019,
                file,
                keys.get("shadow").map_or(item.span, |e| e.span),
                "the shadow is the stage being served",
                "same stage",
                "shadow the other stage, or remove `shadow`",
            );
        }
        let fallback = keys.get("fallback").and_then(|e| self.word(file, e, "fallback", &["previous", "none"]));
        let features = keys.get("features").and_then(|e| {
            let ExprKind::Path(p) = &e.kind else {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    "`features` names a feature view",
                    "not a view",
                    "write e.g. `features = customer_features`",
                );
                return None;
            };
            if p.parts.len() != 1 || !self.lookup(file, &p.parts[0], "features") {
                return None;
            }
            let view = p.parts[0].name.clone();
            if let Some(m) = &model {
                if !m.inputs.iter().any(|c| c.view.as_deref() == Some(&view)) {
                    self.err(
                        Code::E0004,
                        file,
                        e.span,
                        format!("`{}` takes no feature from `{view}`", m.name),
                        "nothing to look up",
                        format!("name a view among the inputs of `{}`, or remove `features`", m.name),
                    );
                    return None;
                }
            }
            Some(view)
        });
        self.push_serve(ServeInfo {
            registered: registered.value.clone(),
            site: self.site(file, registered.span, item),
            model: model.map(|m| m.name),
            stage,
            features,
            shadow,
            fallback,
            canary: canary.map(|(_, c)| c),
        });
    }

    fn canary(&mut self, file: FileId, name: &Ident, body: &Body) -> Option<CanaryDef> {
        let mut promote = None;
        let mut rollback = None;
        let keys = self.keys(file, Some(body), "a `canary` block", block_keys("canary"), |c, s| {
            let (slot, cond) = match &s.kind {
                StmtKind::Promote { stage: None, cond } => (&mut promote, cond),
                StmtKind::Rollback { cond } => (&mut rollback, cond),
                _ => {
                    return c.misplaced(
                        file,
                        s,
                        "a `canary` block",
                        "`steps`, `interval`, `min_requests`, `promote when …` and `rollback when …`",
                    )
                }
            };
            let mut deps = Deps::default();
            let (v, t) = c.expr(file, cond, Ctx::Canary, &mut deps);
            c.condition(file, cond, &v);
            if slot.is_some() {
                c.err(
                    Code::E0003,
                    file,
                    s.span,
                    "this gate is set twice",
                    "again here",
                    "join the conditions with `and` / `or`",
                );
            }
            *slot = Some(Rule { text: c.text(file, cond.span).to_string(), expr: t });
        });
        let steps = match keys.get("steps") {
            Some(e) => self.steps(file, e),
            None => {
                self.missing(file, name.span, "a canary", "steps", "steps = [10%, 50%, 100%]");
                Vec::new()
            }
        };
        let interval = match keys.get("interval") {
            Some(e) => self.duration_value(file, e, "interval").unwrap_or(0),
            None => {
                self.missing(file, name.span, "a canary", "interval", "interval = 30m");
                0
            }
        };
        let min_requests =
            keys.get("min_requests").and_then(|e| self.int_value(file, e, "min_requests", 1)).unwrap_or(100) as u64;
        if promote.is_none() && rollback.is_none() {
            self.missing(
                file,
                name.span,
                "a canary",
                "promote when",
                "promote when p99_latency < 50ms and error_rate < 1%",
            );
        }
        Some(CanaryDef { steps, interval_ms: interval, min_requests, promote, rollback })
    }

    fn steps(&mut self, file: FileId, e: &Expr) -> Vec<f64> {
        let ExprKind::List { items } = &e.kind else {
            self.err(
                Code::E0004,
                file,
                e.span,
                "`steps` takes a list of percentages",
                "not a list",
                "write e.g. `steps = [10%, 50%, 100%]`",
            );
            return Vec::new();
        };
        let mut out: Vec<f64> = Vec::new();
        for it in items {
            let ExprKind::Percent { value, .. } = &it.kind else {
                self.err(
                    Code::E0004,
                    file,
                    it.span,
                    "a traffic step is a percentage",
                    "not a percentage",
                    "write e.g. `10%`",
                );
                continue;
            };
            if *value <= 0.0 || *value > 100.0 {
                self.err(
                    Code::E0012,
                    file,
                    it.span,
                    format!("a traffic step must be above 0% and at most 100%, not {value}%"),
                    "out of range",
                    "use shares such as `[10%, 50%, 100%]`",
                );
                continue;
            }
            if let Some(prev) = out.last() {
                if value / 100.0 <= *prev {
                    self.err(
                        Code::E0012,
                        file,
                        it.span,
                        format!("traffic steps must increase: {value}% follows {}%", prev * 100.0),
                        "not above the step before",
                        "order the steps from the smallest share to the largest",
                    );
                    continue;
                }
            }
            out.push(value / 100.0);
        }
        if out.is_empty() && items.is_empty() {
            self.err(
                Code::E0012,
                file,
                e.span,
                "a canary needs at least one traffic step",
                "empty",
                "write e.g. `steps = [10%, 50%, 100%]`",
            );
        }
        out
    }
}
