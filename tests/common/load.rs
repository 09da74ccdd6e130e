//! Prediction requests from a few threads until stopped, each answer kept as it comes: the
//! serving tests' traffic during stage changes and canaries.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Answers so far: the version that answered, or the failure.
type Answers = Arc<Mutex<Vec<Result<String, String>>>>;

pub struct Load {
    stop: Arc<AtomicBool>,
    answers: Answers,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Requests to `base`'s `model` from three threads, each with an id and a customer's key
    /// added to the values `sent`.
    pub fn start(base: &str, model: &str, sent: Value) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Answers::default();
        let workers = (0..3)
            .map(|t| {
                let url = format!("{base}/v1/models/{model}/predict");
                let (stop, answers, sent) = (stop.clone(), answers.clone(), sent.clone());
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let mut body = sent.clone();
                        body["customer_id"] = json!(1 + (t * 1000 + i) % 500);
                        let sent = http.post(&url).header("x-request-id", format!("t{t}-{i}")).json(&body).send();
                        let answer = match sent {
                            Ok(r) if r.status() == 200 => {
                                let v: Value = r.json().unwrap();
                                Ok(v["model_version"].as_str().unwrap().to_string())
                            }
                            Ok(r) => Err(format!("{}: {}", r.status(), r.text().unwrap_or_default())),
                            Err(e) => Err(e.to_string()),
                        };
                        answers.lock().unwrap().push(answer);
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            })
            .collect();
        Load { stop, answers, workers }
    }

    /// How many requests `version` answered so far.
    pub fn answered_by(&self, version: &str) -> usize {
        self.answers.lock().unwrap().iter().filter(|a| a.as_deref() == Ok(version)).count()
    }

    /// Waits until `version` has answered `n` requests in all.
    pub fn until_answered_by(&self, version: &str, n: usize) {
        super::eventually(&format!("{n} requests answered by version {version}"), Duration::from_secs(20), || {
            let got = self.answered_by(version);
            if got >= n {
                Ok(())
            } else {
                Err(format!("{got}"))
            }
        });
    }

    /// Stops, asserting that no request failed; the versions that answered, in order.
    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join().unwrap();
        }
        let answers = std::mem::take(&mut *self.answers.lock().unwrap());
        let (answered, failed): (Vec<_>, Vec<_>) = answers.into_iter().partition(Result::is_ok);
        let failed: Vec<String> = failed.into_iter().filter_map(Result::err).collect();
        assert!(failed.is_empty(), "{} of {} requests failed, e.g. {}", failed.len(), answered.len(), failed[0]);
        answered.into_iter().flatten().collect()
    }
}
