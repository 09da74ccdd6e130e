//! An algorithm's parameters as the plan gives them (stdlib defaults already filled in).

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub BTreeMap<String, serde_json::Value>);

impl Params {
    fn get(&self, name: &str) -> Result<&serde_json::Value, String> {
        self.0.get(name).ok_or_else(|| format!("parameter `{name}` is missing"))
    }
    pub fn float(&self, name: &str) -> Result<f64, String> {
        self.get(name)?.as_f64().ok_or_else(|| format!("parameter `{name}` must be a number"))
    }
    /// A count: a non-negative whole number.
    pub fn count(&self, name: &str) -> Result<usize, String> {
        let v = self.get(name)?;
        v.as_u64().map(|n| n as usize).ok_or_else(|| format!("parameter `{name}` must be a whole number ≥ 0, not {v}"))
    }
    pub fn flag(&self, name: &str) -> Result<bool, String> {
        self.get(name)?.as_bool().ok_or_else(|| format!("parameter `{name}` must be true or false"))
    }
    pub fn counts(&self, name: &str) -> Result<Vec<usize>, String> {
        let v = self.get(name)?;
        v.as_array()
            .and_then(|a| a.iter().map(|x| x.as_u64().map(|n| n as usize)).collect())
            .ok_or_else(|| format!("parameter `{name}` must be a list of whole numbers, not {v}"))
    }
    pub fn seed(&self) -> Result<u64, String> {
        self.get("seed")?.as_u64().ok_or_else(|| "parameter `seed` must be a whole number ≥ 0".to_string())
    }
}
