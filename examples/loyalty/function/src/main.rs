//! Sample application deployed behind the lifeguard hooks: a loyalty lookup.
//!
//! Input: `{"customerId": "alice"}`. Output, API-Gateway style:
//! `{"statusCode": 200, "body": "{\"points\":1200,\"level\":\"Gold\",\"remainingPoints\":3800,\"version\":\"7\"}"}`.
//! `version` is the published Lambda version that answered, so a probe can tell versions apart.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Loyalty tiers with the points at which each starts, lowest first.
const LEVELS: [(&str, u64); 4] = [("Bronze", 0), ("Silver", 500), ("Gold", 1000), ("Platinum", 5000)];

/// Points held by the demo customers.
const CUSTOMERS: [(&str, u64); 3] = [("alice", 1200), ("bob", 300), ("carol", 5200)];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    customer_id: Option<String>,
}

/// Body returned for a known customer.
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Standing {
    points: u64,
    level: &'static str,
    remaining_points: u64,
}

/// Level reached with `points`, and the points still needed for the next level (0 at the top).
fn standing(points: u64) -> Standing {
    let reached = LEVELS.iter().rposition(|(_, floor)| points >= *floor).unwrap_or(0);
    let remaining_points = LEVELS.get(reached + 1).map_or(0, |(_, next)| next - points);
    Standing { points, level: LEVELS[reached].0, remaining_points }
}

fn respond(status_code: u16, body: &Value) -> Value {
    json!({ "statusCode": status_code, "body": body.to_string() })
}

fn lookup(request: Request, version: &str) -> Value {
    let Some(customer_id) = request.customer_id.filter(|id| !id.is_empty()) else {
        return respond(400, &json!({ "message": "customerId is required" }));
    };
    match CUSTOMERS.iter().find(|(id, _)| *id == customer_id) {
        Some((_, points)) => {
            let mut body = serde_json::to_value(standing(*points)).expect("standing serializes");
            body["version"] = json!(version);
            respond(200, &body)
        }
        None => respond(404, &json!({ "message": format!("unknown customer {customer_id}") })),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let version = std::env::var("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|_| "$LATEST".into());
    let version = version.as_str();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let request: Request =
            serde_json::from_value(event.payload).map_err(|e| format!("malformed loyalty request: {e}"))?;
        Ok::<_, Error>(lookup(request, version))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_remaining_points() {
        assert_eq!(standing(0), Standing { points: 0, level: "Bronze", remaining_points: 500 });
        assert_eq!(standing(1200), Standing { points: 1200, level: "Gold", remaining_points: 3800 });
        assert_eq!(standing(5000), Standing { points: 5000, level: "Platinum", remaining_points: 0 });
    }

    #[test]
    fn lookup_answers_api_gateway_style() {
        let ok = lookup(Request { customer_id: Some("alice".into()) }, "3");
        assert_eq!(ok["statusCode"], 200);
        let body: Value = serde_json::from_str(ok["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"points": 1200, "level": "Gold", "remainingPoints": 3800, "version": "3"}));
        assert_eq!(lookup(Request { customer_id: None }, "3")["statusCode"], 400);
        assert_eq!(lookup(Request { customer_id: Some("zed".into()) }, "3")["statusCode"], 404);
    }
}
