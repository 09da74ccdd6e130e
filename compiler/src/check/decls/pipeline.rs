//! The `pipeline` block: owner and cron schedule.

use super::*;

impl Checker<'_> {
    pub(in crate::check) fn pipeline(&mut self, file: FileId, item: &Item, name: &Ident, body: Option<&Body>) {
        let keys = self.keys(file, body, "a `pipeline` block", block_keys("pipeline"), |c, s| {
            c.misplaced(file, s, "a `pipeline` block", "`owner` and `schedule`")
        });
        let owner = keys.get("owner").and_then(|e| self.string_value(file, e, "owner"));
        let schedule = keys.get("schedule").and_then(|e| {
            let s = self.string_value(file, e, "schedule")?;
            let fields = s.split_whitespace().count();
            let problem = if fields != 5 && !s.trim_start().starts_with('@') {
                Some(format!("it has {fields} field{}, not 5", if fields == 1 { "" } else { "s" }))
            } else {
                cron_field_problem(&s).or_else(|| {
                    croner::Cron::new(&s).parse().err().map(|e| {
                        let why = e.to_string();
                        let why = why.trim_start_matches("Component error: ").trim_end_matches('.');
                        let mut chars = why.chars();
                        chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
                    })
                })
            };
            match problem {
                None => Some(s),
                Some(why) => {
                    self.err(
                        Code::E0013,
                        file,
                        e.span,
                        format!("`{s}` is not a valid cron schedule: {why}"),
                        "invalid cron expression",
                        "use five fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" for 02:00 daily",
                    );
                    None
                }
            }
        });
        self.a.pipeline =
            Some(PipelineInfo { name: name.name.clone(), site: self.site(file, name.span, item), owner, schedule });
    }
}

/// Which field of a five-field cron schedule holds a number outside its range, or a
/// zero step: `the hour field is 25, outside 0–23`. `None` when every number fits
/// (names such as `MON` or `JAN` and croner's `L`, `W`, `#` are left to croner).
fn cron_field_problem(s: &str) -> Option<String> {
    const FIELDS: [(&str, u64, u64); 5] =
        [("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7)];
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return None;
    }
    for (field, (name, low, high)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            let (values, step) = match part.split_once('/') {
                Some((v, st)) => (v, Some(st)),
                None => (part, None),
            };
            if let Some(step) = step.and_then(|st| st.parse::<u64>().ok()) {
                if step == 0 {
                    return Some(format!("the {name} field `{field}` steps by 0; a step is at least 1"));
                }
            }
            for value in values.split('-') {
                let value = value.split('#').next().unwrap_or(value).trim_end_matches(['L', 'W', 'l', 'w']);
                let Ok(n) = value.parse::<u64>() else { continue };
                if n < low || n > high {
                    return Some(format!("the {name} field is {n}, outside {low}–{high}"));
                }
            }
        }
    }
    None
}
