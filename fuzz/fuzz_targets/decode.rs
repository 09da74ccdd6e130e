//! Fuzzes the serving side's request decoding: the bytes of a request body, read as the
//! Open Inference Protocol's `infer` (JSON, or binary tensor data with the next two bytes
//! as the JSON header's length), MLflow's `/invocations` or `/v1/models/NAME/predict` (the
//! first byte picks which), decoded into the frame a churn-like model takes (floats,
//! `int` inputs carried as floats, categories, a bool). Any panic is a bug, and so is an
//! answer the server would not give: a frame past the row cap, or an error outside 4xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlpc_serve::decode::{self, Port, TensorElementType as T};

const MAX_ROWS: usize = 64;

fn port(name: &str, ty: T) -> Port {
    Port { name: name.into(), ty, shape: vec![-1, 1] }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let inputs = [
        port("spend", T::Float32),
        port("tickets", T::Float32),
        port("plan", T::String),
        port("age", T::Int64),
        port("active", T::Bool),
    ];
    let ints = ["tickets".to_string(), "age".to_string()];
    let decoded = match which % 4 {
        0 => decode::oip(body, &inputs, &ints, MAX_ROWS),
        1 => decode::mlflow(body, &inputs, &ints, MAX_ROWS),
        2 => decode::predict(body, &inputs, &ints, MAX_ROWS),
        _ => {
            let Some((length, body)) = body.split_first_chunk::<2>() else { return };
            decode::oip_binary(body, u16::from_le_bytes(*length).into(), &inputs, &ints, MAX_ROWS)
        }
    };
    match decoded {
        Ok(frame) => {
            assert!(frame.rows() >= 1 && frame.rows() <= MAX_ROWS, "{} rows", frame.rows());
            assert_eq!(frame.columns.len(), inputs.len());
        }
        Err((status, message)) => {
            assert!((400..500).contains(&status), "{status}: {message}");
            assert!(!message.is_empty());
        }
    }
});
