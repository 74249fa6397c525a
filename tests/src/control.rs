//! The local AWS's `/_lifeguard/` control API: a minimal HTTP client for it, injected faults
//! and request counts.

use crate::local_aws::LocalAws;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A minimal HTTP/1.1 client for the launcher's control API: one request per connection.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let socket = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(3))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_mins(1))).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("{method} {path}: {e}"))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: answer without a header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut content = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{method} {path}: bad status line in {head:?}"))?;
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    if let Some(length) = length {
        content = &content[..length.min(content.len())];
    }
    let value = if content.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(content)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(content).into_owned()))
    };
    Ok((status, value))
}

/// Percent-encodes a query parameter value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A list the control API answered; panics on anything else.
pub(crate) fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("expected a list from the control API, got {other}"),
    }
}

impl LocalAws {
    /// Calls the control API; panics on transport errors and on statuses other than 200.
    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        match http(&self.addr, method, path, body) {
            Ok((200, value)) => value,
            Ok((status, value)) => panic!("{method} {path} answered {status}: {value}"),
            Err(error) => panic!("{method} {path}: {error}"),
        }
    }

    /// Injects a fault: the next `count` requests to `target` (an `X-Amz-Target`, a query
    /// `Action` or a `METHOD /path` prefix) whose body, path or query contains `matching`
    /// get `status` with error `code`.
    pub fn inject_fault(&self, target: &str, matching: &str, count: u32, status: u16, code: &str) {
        assert!(!matching.is_empty(), "faults must match something unique to the test");
        let body = json!({"target": target, "match": matching, "count": count, "status": status,
                          "code": code, "message": "injected by the test"});
        self.control("POST", "/_lifeguard/faults", Some(&body));
    }

    /// Requests signed with this connection's access key that the local AWS handled, by
    /// `"<service>.<Operation>"` (e.g. `"cloudformation.DescribeStacks"`, `"sns.Publish"`).
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.request_counts_for(&self.access_key)
    }

    pub(crate) fn request_counts_for(&self, access_key: &str) -> std::collections::BTreeMap<String, u64> {
        let answer = self.control("GET", &format!("/_lifeguard/requests?accessKey={access_key}"), None);
        serde_json::from_value(answer["counts"].clone())
            .unwrap_or_else(|e| panic!("request counts ({e}): {answer}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("d-AB12 x/y=z"), "d-AB12%20x%2Fy%3Dz");
    }
}
