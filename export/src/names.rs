//! Kubernetes names from mlpc's: node ids (`split:churn_data.train`) and registered names
//! become DNS labels (`split-churn-data-train`).

use std::collections::{BTreeMap, HashMap};

/// Lower-case letters, digits and single hyphens, at most 63 characters, starting and
/// ending with a letter or digit.
pub fn dns_label(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

/// A distinct label per id: ids whose labels collide (`a_b.c`, `a.b_c`) each get the first
/// characters of their hash after a hyphen.
pub fn distinct<'a>(ids: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    let pairs: Vec<(&str, &str)> = ids.into_iter().collect();
    let mut count: HashMap<String, usize> = HashMap::new();
    for (id, _) in &pairs {
        *count.entry(dns_label(id)).or_default() += 1;
    }
    pairs
        .into_iter()
        .map(|(id, hash)| {
            let label = dns_label(id);
            let label = if count[&label] > 1 {
                let mut short = label.clone();
                short.truncate(54);
                format!("{}-{}", short.trim_end_matches('-'), &hash[..hash.len().min(8)])
            } else {
                label
            };
            (id.to_string(), label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_dns_labels_and_stay_distinct() {
        assert_eq!(dns_label("evaluate:churn_model@churn_data.test"), "evaluate-churn-model-churn-data-test");
        assert_eq!(dns_label("register:Churn--Predictor"), "register-churn-predictor");
        assert_eq!(dns_label(&"x".repeat(80)).len(), 63);
        let names = distinct([("split:a_b.c", "0123456789"), ("split:a.b_c", "abcdef0123"), ("model:m", "ff")]);
        assert_eq!(names["split:a_b.c"], "split-a-b-c-01234567");
        assert_eq!(names["split:a.b_c"], "split-a-b-c-abcdef01");
        assert_eq!(names["model:m"], "model-m");
    }
}
