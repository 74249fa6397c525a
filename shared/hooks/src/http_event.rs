//! The `http:` shorthand of a check: an HTTP request written as method, path, query, headers and
//! body, built into the event API Gateway sends a proxy integration, so nobody writes one by hand:
//!
//! ```yaml
//! - name: known-order
//!   http: {method: GET, path: /orders/o-1001, pathParameters: {orderId: o-1001}}
//! - name: create-order
//!   http: {api: http, method: POST, path: /orders, body: {item: tea}}
//! ```
//!
//! `api: rest` (the default) builds a REST API (payload format 1.0) event, `api: http` an HTTP API
//! payload format 2.0 event, with the fields the API Gateway developer guide lists for each. A
//! body that is a mapping or a list is sent as JSON text (with `content-type:
//! application/json` unless given), a string as it is.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Which API Gateway flavour sends the event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// REST API, Lambda proxy integration (payload format 1.0).
    #[default]
    Rest,
    /// HTTP API (payload format 2.0).
    Http,
}

/// An HTTP request as a check writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRequest {
    /// `rest` or `http`.
    #[serde(default)]
    pub api: Api,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request path, from `/`.
    pub path: String,
    /// Query string parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Path parameters as the route template names them (the shorthand cannot know the route).
    #[serde(default)]
    pub path_parameters: BTreeMap<String, String>,
    /// The body: a mapping or list is sent as JSON text, a string as it is.
    #[serde(default)]
    pub body: Option<Value>,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl HttpRequest {
    /// What is wrong with the request, if anything.
    pub fn problem(&self) -> Option<String> {
        if !METHODS.contains(&self.method.as_str()) {
            return Some(format!("method {:?}: expected one of {}", self.method, METHODS.join(", ")));
        }
        if !self.path.starts_with('/') || self.path.contains(['?', '#', ' ']) {
            return Some(format!("path {:?}: a path from / without query, fragment or spaces", self.path));
        }
        None
    }

    /// The event API Gateway would send.
    pub fn event(&self) -> Value {
        let mut headers = self.headers.clone();
        let body = match &self.body {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(text)) => Value::String(text.clone()),
            Some(other) => {
                if !headers.keys().any(|name| name.eq_ignore_ascii_case("content-type")) {
                    headers.insert("content-type".into(), "application/json".into());
                }
                Value::String(other.to_string())
            }
        };
        let map_or_null = |map: &BTreeMap<String, String>| {
            if map.is_empty() { Value::Null } else { json!(map) }
        };
        match self.api {
            Api::Rest => json!({
                "resource": self.path,
                "path": self.path,
                "httpMethod": self.method,
                "headers": map_or_null(&headers),
                "multiValueHeaders": multi(&headers),
                "queryStringParameters": map_or_null(&self.query),
                "multiValueQueryStringParameters": multi(&self.query),
                "pathParameters": map_or_null(&self.path_parameters),
                "stageVariables": null,
                "requestContext": {
                    "resourcePath": self.path,
                    "httpMethod": self.method,
                    "path": self.path,
                    "stage": "lifeguard",
                    "requestId": "lifeguard-probe",
                    "identity": {"sourceIp": "127.0.0.1", "userAgent": "lifeguard"},
                },
                "body": body,
                "isBase64Encoded": false,
            }),
            Api::Http => {
                let route = format!("{} {}", self.method, self.path);
                let mut event = json!({
                    "version": "2.0",
                    "routeKey": route,
                    "rawPath": self.path,
                    "rawQueryString": raw_query(&self.query),
                    "headers": headers,
                    "requestContext": {
                        "http": {
                            "method": self.method,
                            "path": self.path,
                            "protocol": "HTTP/1.1",
                            "sourceIp": "127.0.0.1",
                            "userAgent": "lifeguard",
                        },
                        "requestId": "lifeguard-probe",
                        "routeKey": route,
                        "stage": "$default",
                    },
                    "isBase64Encoded": false,
                });
                let fields = event.as_object_mut().expect("an object");
                insert_unless_empty(fields, "queryStringParameters", &self.query);
                insert_unless_empty(fields, "pathParameters", &self.path_parameters);
                if !body.is_null() {
                    fields.insert("body".into(), body);
                }
                event
            }
        }
    }
}

fn multi(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
    }
}

/// Payload 2.0 leaves out empty maps.
fn insert_unless_empty(fields: &mut Map<String, Value>, name: &str, map: &BTreeMap<String, String>) {
    if !map.is_empty() {
        fields.insert(name.into(), json!(map));
    }
}

/// `a=1&b=x%20y`, percent-encoding what a query component must.
fn raw_query(query: &BTreeMap<String, String>) -> String {
    let encode = |text: &str| {
        text.bytes().fold(String::new(), |mut out, byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                write!(out, "%{byte:02X}").expect("writing to a String");
            }
            out
        })
    };
    query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};

    fn request(yaml: &str) -> HttpRequest {
        let request: HttpRequest = crate::yaml::from_str(yaml).unwrap();
        assert_eq!(request.problem(), None);
        request
    }

    // The events read back through aws_lambda_events' models of both payload formats: the shapes
    // Lambda functions (Rust ones at least) deserialize.
    #[test]
    fn rest_events_read_as_api_gateway_proxy_requests() {
        let event = request(
            "{method: GET, path: /orders/o-1001, query: {expand: items}, headers: {Accept: application/json}, \
             pathParameters: {orderId: o-1001}}",
        )
        .event();
        let read: ApiGatewayProxyRequest = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(read.http_method.as_str(), "GET");
        assert_eq!(read.path.as_deref(), Some("/orders/o-1001"));
        assert_eq!(read.path_parameters.get("orderId").map(String::as_str), Some("o-1001"));
        assert_eq!(read.query_string_parameters.first("expand"), Some("items"));
        assert_eq!(read.headers.get("Accept").unwrap(), "application/json");
        assert_eq!(read.body, None);
        assert_eq!(event["requestContext"]["resourcePath"], "/orders/o-1001");
    }

    #[test]
    fn http_api_events_read_as_payload_2_requests() {
        let event = request(
            "{api: http, method: POST, path: /orders, query: {dry run: 'yes&no'}, body: {item: tea, n: 2}}",
        )
        .event();
        let read: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(read.request_context.http.method.as_str(), "POST");
        assert_eq!(read.raw_path.as_deref(), Some("/orders"));
        assert_eq!(read.raw_query_string.as_deref(), Some("dry%20run=yes%26no"));
        assert_eq!(read.route_key.as_deref(), Some("POST /orders"));
        assert_eq!(read.headers.get("content-type").unwrap(), "application/json");
        let body: Value = serde_json::from_str(read.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"item": "tea", "n": 2}));
        assert_eq!(event["version"], "2.0");
        assert!(event.get("pathParameters").is_none(), "empty maps are left out of payload 2.0");
    }

    #[test]
    fn a_string_body_is_sent_as_it_is_and_bad_requests_are_named() {
        let event =
            request("{method: PUT, path: /notes/1, body: plain text, headers: {Content-Type: text/plain}}")
                .event();
        assert_eq!(
            (event["body"].as_str(), event["headers"]["Content-Type"].as_str()),
            (Some("plain text"), Some("text/plain"))
        );
        let problem = |yaml: &str| crate::yaml::from_str::<HttpRequest>(yaml).unwrap().problem().unwrap();
        assert!(problem("{method: get, path: /}").starts_with("method \"get\": expected one of GET"));
        assert!(problem("{method: GET, path: orders}").starts_with("path \"orders\""));
        assert!(problem("{method: GET, path: '/a?b=1'}").starts_with("path \"/a?b=1\""));
    }
}
