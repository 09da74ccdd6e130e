//! Dynamic batching, as Triton's dynamic batcher does it: requests for one version queue
//! for its sessions, each on its own thread (off the async workers), and a session takes
//! what is queued, up to `max_rows` rows or until `max_delay` after the first, and scores
//! it in one ONNX Runtime call, sharing the per-call cost. Each request gets its own rows
//! back; when a batch fails, its requests are scored one by one, so one bad request fails
//! alone.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use mlpc_train::frame::{Column, Values};
use mlpc_train::scorer::{Output, Scorer};
use mlpc_train::Frame;
use prometheus_client::metrics::histogram::Histogram;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a scoring answers: each output by name.
pub type Scored = Result<Vec<(String, Output)>, String>;

/// How requests are batched (`--max-batch`, `--batch-delay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// Sessions (threads) per version.
    pub sessions: usize,
    /// The most rows scored in one call; a larger request is scored alone.
    pub max_rows: usize,
    /// How long a session waits for more requests after the first; zero takes only what is
    /// already queued.
    pub max_delay: Duration,
}

impl Default for Batching {
    fn default() -> Batching {
        Batching { sessions: 1, max_rows: 64, max_delay: Duration::ZERO }
    }
}

struct Job {
    frame: Frame,
    reply: oneshot::Sender<Scored>,
}

/// The queue in front of a version's sessions; the sessions stop when it is dropped.
pub struct Batcher {
    queue: Sender<Job>,
}

impl Batcher {
    /// Starts a thread per session; each records the rows of its calls in `calls`.
    pub fn start(label: &str, sessions: Vec<Scorer>, batching: Batching, calls: Histogram) -> std::io::Result<Batcher> {
        let (queue, jobs) = crossbeam_channel::unbounded();
        for (i, scorer) in sessions.into_iter().enumerate() {
            let (jobs, calls) = (jobs.clone(), calls.clone());
            std::thread::Builder::new()
                .name(format!("score {label} #{i}"))
                .spawn(move || work(scorer, &jobs, batching, &calls))?;
        }
        Ok(Batcher { queue })
    }

    /// Scores `frame` with whatever else is queued, waiting without blocking the caller's thread.
    pub async fn score(&self, frame: Frame) -> Scored {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { frame, reply }).map_err(|_| "the version has no sessions".to_string())?;
        answer.await.map_err(|_| "the session stopped".to_string())?
    }

    /// [`Batcher::score`] for a thread that may block.
    pub fn score_blocking(&self, frame: Frame) -> Scored {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { frame, reply }).map_err(|_| "the version has no sessions".to_string())?;
        answer.blocking_recv().map_err(|_| "the session stopped".to_string())?
    }
}

/// A session's loop: a batch at a time until the queue closes.
fn work(mut scorer: Scorer, jobs: &Receiver<Job>, batching: Batching, calls: &Histogram) {
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let deadline = Instant::now() + batching.max_delay;
        let mut rows = first.frame.rows();
        let mut batch = vec![first];
        while rows < batching.max_rows {
            let next = if batching.max_delay.is_zero() {
                jobs.try_recv().map_err(|e| matches!(e, TryRecvError::Disconnected))
            } else {
                jobs.recv_deadline(deadline).map_err(|e| matches!(e, RecvTimeoutError::Disconnected))
            };
            let Ok(job) = next else { break };
            if rows + job.frame.rows() > batching.max_rows {
                held = Some(job);
                break;
            }
            rows += job.frame.rows();
            batch.push(job);
        }
        calls.observe(rows as f64);
        answer(&mut scorer, batch);
    }
}

/// Scores a batch and answers each request with its rows.
fn answer(scorer: &mut Scorer, batch: Vec<Job>) {
    if let [_] = batch.as_slice() {
        let job = batch.into_iter().next().expect("one job");
        let _ = job.reply.send(run(scorer, &job.frame));
        return;
    }
    let sizes: Vec<usize> = batch.iter().map(|j| j.frame.rows()).collect();
    let split = concat(batch.iter().map(|j| &j.frame))
        .and_then(|all| run(scorer, &all).ok())
        .and_then(|outputs| split(&outputs, &sizes));
    match split {
        Some(parts) => {
            for (job, part) in batch.into_iter().zip(parts) {
                let _ = job.reply.send(Ok(part));
            }
        }
        None => {
            for job in batch {
                let _ = job.reply.send(run(scorer, &job.frame));
            }
        }
    }
}

/// One ONNX Runtime call; a panic is an error like any other.
fn run(scorer: &mut Scorer, frame: &Frame) -> Scored {
    catch_unwind(AssertUnwindSafe(|| scorer.score(frame).map_err(String::from)))
        .unwrap_or_else(|_| Err("the scorer panicked".into()))
}

/// The frames one under another, when they have the same columns in the same order.
fn concat<'a>(mut frames: impl Iterator<Item = &'a Frame>) -> Option<Frame> {
    let mut all = frames.next()?.clone();
    for frame in frames {
        if frame.columns.len() != all.columns.len() {
            return None;
        }
        for (into, from) in all.columns.iter_mut().zip(&frame.columns) {
            if into.name != from.name || into.ty != from.ty {
                return None;
            }
            append(into, from)?;
        }
    }
    Some(all)
}

fn append(into: &mut Column, from: &Column) -> Option<()> {
    match (&mut into.values, &from.values) {
        (Values::Number(a), Values::Number(b)) => a.extend_from_slice(b),
        (Values::Category(a), Values::Category(b)) => a.extend_from_slice(b),
        _ => return None,
    }
    Some(())
}

/// Each request's rows of every output (`sizes`: the rows of each, in order); None when an
/// output is not one row per input row.
fn split(outputs: &[(String, Output)], sizes: &[usize]) -> Option<Vec<Vec<(String, Output)>>> {
    let total: usize = sizes.iter().sum();
    let mut parts: Vec<Vec<(String, Output)>> = sizes.iter().map(|_| Vec::new()).collect();
    for (name, output) in outputs {
        let (shape, len) = match output {
            Output::Numbers { shape, data } => (shape, data.len()),
            Output::Strings { shape, data } => (shape, data.len()),
        };
        if shape.first().copied() != Some(total as i64) || total == 0 || len % total != 0 {
            return None;
        }
        let width = len / total;
        let mut start = 0;
        for (part, &rows) in parts.iter_mut().zip(sizes) {
            let mut shape = shape.clone();
            shape[0] = rows as i64;
            let range = start * width..(start + rows) * width;
            let piece = match output {
                Output::Numbers { data, .. } => Output::Numbers { shape, data: data[range].to_vec() },
                Output::Strings { data, .. } => Output::Strings { shape, data: data[range].to_vec() },
            };
            part.push((name.clone(), piece));
            start += rows;
        }
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpc_train::frame::InputType;

    fn frame(spend: &[f64], plan: &[&str]) -> Frame {
        Frame {
            columns: vec![
                Column { name: "spend".into(), ty: InputType::Float, values: Values::Number(spend.to_vec()) },
                Column {
                    name: "plan".into(),
                    ty: InputType::Category,
                    values: Values::Category(plan.iter().map(|p| Some(p.to_string())).collect()),
                },
            ],
        }
    }

    #[test]
    fn frames_with_the_same_columns_stack() {
        let all = concat([frame(&[1.0], &["a"]), frame(&[2.0, 3.0], &["b", "c"])].iter()).unwrap();
        assert_eq!(all, frame(&[1.0, 2.0, 3.0], &["a", "b", "c"]));
    }

    #[test]
    fn frames_with_other_columns_do_not_stack() {
        let mut other = frame(&[2.0], &["b"]);
        other.columns.swap(0, 1);
        assert_eq!(concat([frame(&[1.0], &["a"]), other].iter()), None);
    }

    #[test]
    fn outputs_split_back_by_rows() {
        let outputs = vec![
            ("label".to_string(), Output::Strings { shape: vec![3], data: vec!["x".into(), "y".into(), "z".into()] }),
            (
                "probabilities".to_string(),
                Output::Numbers { shape: vec![3, 2], data: vec![0.1, 0.9, 0.2, 0.8, 0.3, 0.7] },
            ),
        ];
        let parts = split(&outputs, &[1, 2]).unwrap();
        assert_eq!(
            parts[0],
            vec![
                ("label".to_string(), Output::Strings { shape: vec![1], data: vec!["x".into()] }),
                ("probabilities".to_string(), Output::Numbers { shape: vec![1, 2], data: vec![0.1, 0.9] }),
            ]
        );
        assert_eq!(
            parts[1][1],
            ("probabilities".to_string(), Output::Numbers { shape: vec![2, 2], data: vec![0.2, 0.8, 0.3, 0.7] })
        );
    }

    #[test]
    fn an_output_not_per_row_does_not_split() {
        let outputs = vec![("total".to_string(), Output::Numbers { shape: vec![1], data: vec![6.0] })];
        assert_eq!(split(&outputs, &[1, 2]), None);
    }
}
