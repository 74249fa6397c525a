//! Scripted invoke answers for [`LocalAws::script`](crate::LocalAws::script). Behaviours without
//! `whenPayload` are used in order (the last repeats); one with `whenPayload` answers every
//! request with that payload.
#![expect(
    clippy::needless_pass_by_value,
    reason = "builders take the JSON they wrap, as callers write it inline"
)]

use serde_json::{Value, json};

/// Answers `payload`.
pub fn answer(payload: Value) -> Value {
    json!({"payload": payload})
}

/// Answers `payload` after `delay_ms`.
pub fn delayed(delay_ms: u64, payload: Value) -> Value {
    json!({"payload": payload, "delayMs": delay_ms})
}

/// Fails like a function that raised: `X-Amz-Function-Error: Unhandled`.
pub fn function_error(message: &str) -> Value {
    json!({"payload": {"errorType": "Panic", "errorMessage": message}, "functionError": "Unhandled"})
}

/// Lambda refuses the invocation: 429 `TooManyRequestsException`.
pub fn throttle() -> Value {
    json!({"throttle": true})
}

/// `behaviour`, only for requests whose payload equals `payload`.
pub fn when(payload: Value, mut behaviour: Value) -> Value {
    behaviour["whenPayload"] = payload;
    behaviour
}

/// An API-Gateway-style answer: `{"statusCode": status, "body": "<body as JSON text>"}`.
pub fn api(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "body": body.to_string()})
}
