//! The candidate's serving metrics from Prometheus' HTTP API (`/api/v1/query`): one
//! instant query per metric a canary reads, over the step's window so far. The default
//! queries read Triton's own metrics (`nv_inference_*`, labelled by model and version —
//! the Triton version folder is the registry version); `--prometheus-query METRIC=PROMQL`
//! replaces one. In a query `$namespace`, `$model`, `$version` and `$window` (e.g. `90s`)
//! are filled in.

use mlpc_serve::Live;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The candidate's series: its namespace, Triton model (the service's name) and version.
const SERIES: &str = r#"namespace="$namespace",model="$model",version="$version""#;

/// The default query of each serving metric KServe's Triton exposes. Latencies come from
/// Triton's latency summaries (`--metrics-config summary_latencies=true`), in microseconds;
/// `fallback_rate` has none (KServe has no fallback version).
fn default_query(metric: &str) -> Option<String> {
    let requests =
        format!(r#"sum(increase({{__name__=~"nv_inference_request_(success|failure)",{SERIES}}}[$window]))"#);
    let quantile = |q: &str| {
        format!(r#"max(max_over_time(nv_inference_request_summary_us{{{SERIES},quantile="{q}"}}[$window])) / 1000"#)
    };
    Some(match metric {
        "request_count" => requests,
        "error_rate" => {
            format!(r#"(sum(increase(nv_inference_request_failure{{{SERIES}}}[$window])) or vector(0)) / {requests}"#)
        }
        "p50_latency" => quantile("0.5"),
        "p90_latency" => quantile("0.9"),
        "p95_latency" => quantile("0.95"),
        "p99_latency" => quantile("0.99"),
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("Prometheus at {url} cannot be reached: {error}")]
    Unreachable { url: String, error: String },
    #[error("Prometheus refused `{query}`: {error}")]
    Refused { query: String, error: String },
    #[error("Prometheus has no data for {metric} (`{query}`)")]
    NoData { metric: String, query: String },
    #[error("Prometheus answered {series} series for {metric} (`{query}`): aggregate them into one (sum, max)")]
    Ambiguous { metric: String, query: String, series: usize },
}

/// Which series a query reads.
pub struct Labels<'a> {
    pub namespace: &'a str,
    pub model: &'a str,
    pub version: i64,
}

pub struct Prometheus {
    url: String,
    client: reqwest::Client,
    queries: BTreeMap<String, String>,
}

impl Prometheus {
    /// The client of `url` with the default queries, `overrides` (`METRIC=PROMQL`) in place.
    pub fn new(url: &str, overrides: &[String]) -> Result<Prometheus, String> {
        if !url.starts_with("http://") {
            return Err(format!("--prometheus `{url}`: give Prometheus' http:// URL (its in-cluster service)"));
        }
        let mut queries = BTreeMap::new();
        for metric in ["request_count", "error_rate", "p50_latency", "p90_latency", "p95_latency", "p99_latency"] {
            queries.insert(metric.to_string(), default_query(metric).expect("a default for each listed metric"));
        }
        for o in overrides {
            let (metric, query) = o
                .split_once('=')
                .filter(|(m, q)| !m.is_empty() && !q.trim().is_empty())
                .ok_or_else(|| format!("--prometheus-query `{o}`: write METRIC=PROMQL"))?;
            if Live::default().get(metric).is_none() {
                return Err(format!(
                    "--prometheus-query: `{metric}` is no serving metric (request_count, error_rate, fallback_rate, p50_latency, p90_latency, p95_latency, p99_latency)"
                ));
            }
            queries.insert(metric.to_string(), query.to_string());
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Prometheus { url: url.trim_end_matches('/').to_string(), client, queries })
    }

    /// Refuses a metric no query reads.
    pub fn covers(&self, metrics: &[&str]) -> Result<(), String> {
        match metrics.iter().find(|m| !self.queries.contains_key(**m)) {
            Some(m) => Err(format!(
                "a canary gate reads `{m}`, which has no default query on KServe: pass --prometheus-query {m}=PROMQL"
            )),
            None => Ok(()),
        }
    }

    /// The figures of `metrics` (and `request_count`) over the last `window`; the others
    /// stay 0, read by no gate.
    pub async fn live(&self, metrics: &[&str], at: &Labels<'_>, window: Duration) -> Result<Live, QueryError> {
        let mut live = Live::default();
        let mut read = vec!["request_count"];
        read.extend(metrics.iter().filter(|m| **m != "request_count"));
        let window = format!("{}s", window.as_secs().max(1));
        for metric in read {
            let template = self.queries.get(metric).ok_or_else(|| QueryError::NoData {
                metric: metric.into(),
                query: "no query: pass --prometheus-query".into(),
            })?;
            let query = template
                .replace("$namespace", at.namespace)
                .replace("$model", at.model)
                .replace("$version", &at.version.to_string())
                .replace("$window", &window);
            let value = self.query(metric, &query).await?;
            live.set(metric, value);
        }
        live.errors = (live.error_rate * live.request_count as f64).round() as u64;
        Ok(live)
    }

    /// One instant query: its one sample, or why there is none.
    async fn query(&self, metric: &str, query: &str) -> Result<f64, QueryError> {
        let url = format!("{}/api/v1/query", self.url);
        let unreachable = |e: reqwest::Error| QueryError::Unreachable { url: self.url.clone(), error: e.to_string() };
        let reply = self.client.get(&url).query(&[("query", query)]).send().await.map_err(unreachable)?;
        let status = reply.status();
        let body: Reply = reply.json().await.map_err(|e| QueryError::Refused {
            query: query.into(),
            error: format!("{status}, not Prometheus' JSON ({e})"),
        })?;
        if body.status != "success" {
            let error = format!("{}: {}", body.error_type.unwrap_or_default(), body.error.unwrap_or_default());
            return Err(QueryError::Refused { query: query.into(), error });
        }
        let data =
            body.data.ok_or_else(|| QueryError::Refused { query: query.into(), error: "no data field".into() })?;
        let sample = match data.result_type.as_str() {
            "scalar" => serde_json::from_value::<Sample>(data.result).ok(),
            "vector" => {
                let series: Vec<Series> = serde_json::from_value(data.result)
                    .map_err(|e| QueryError::Refused { query: query.into(), error: e.to_string() })?;
                if series.len() > 1 {
                    return Err(QueryError::Ambiguous {
                        metric: metric.into(),
                        query: query.into(),
                        series: series.len(),
                    });
                }
                series.into_iter().next().map(|s| s.value)
            }
            other => {
                return Err(QueryError::Refused {
                    query: query.into(),
                    error: format!("a {other} result: write an instant query that gives one number"),
                })
            }
        };
        // Prometheus writes values as strings; NaN (0/0: no requests) is no data either.
        sample
            .and_then(|Sample(_, v)| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| QueryError::NoData { metric: metric.into(), query: query.into() })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    status: String,
    data: Option<Data>,
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Series {
    value: Sample,
}

/// `[unix time, "value"]`.
#[derive(Deserialize)]
struct Sample(serde::de::IgnoredAny, String);
