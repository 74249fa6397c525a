//! The benchmark's floor: `lambda_runtime` alone, set up as every lifeguard function is (the same
//! release profile, runtime features and subscriber), answering `{}`. `./dev bench` prints each
//! function's cold start as a ratio to this binary's, measured in the same run.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async { Ok::<Value, Error>(json!({})) })).await
}
