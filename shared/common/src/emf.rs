//! CloudWatch Embedded Metric Format: one JSON log line per invocation that CloudWatch Logs turns
//! into metrics, with the function's report beside them as a JSON object (Logs Insights discovers
//! its fields), so metrics cost no API call.
//!
//! The line follows the format's specification ("Specification: Embedded metric format" in the
//! CloudWatch user guide): a root `_aws` member with `Timestamp` (milliseconds since the epoch)
//! and one `CloudWatchMetrics` directive naming the namespace, one dimension set and the metrics;
//! each dimension is a string member and each metric a number member of the root.

use crate::time::Timestamp;
use serde_json::{Map, Value, json};

/// Namespace of every lifeguard metric.
pub const NAMESPACE: &str = "Lifeguard";
/// Most metrics one directive may name (the specification's limit).
pub const MAX_METRICS: usize = 100;

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
    /// A plain number (p-values, ratios).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One EMF line being built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricLine {
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    properties: Map<String, Value>,
}

impl MetricLine {
    /// A line with no dimension, metric or property yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dimension (one set: every dimension added).
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a metric; a value that is not finite is left out (CloudWatch takes numbers only), as
    /// is any metric past [`MAX_METRICS`].
    pub fn metric(mut self, name: &str, value: f64, unit: Unit) -> Self {
        if value.is_finite() && self.metrics.len() < MAX_METRICS {
            self.metrics.push((name.to_owned(), value, unit));
        }
        self
    }

    /// Adds a property: any JSON value, logged but not a metric.
    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.properties.insert(name.to_owned(), value);
        self
    }

    /// The line at `at`: one JSON object, no line break.
    pub fn render(&self, at: Timestamp) -> String {
        let mut root = self.properties.clone();
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::String(value.clone()));
        }
        for (name, value, _) in &self.metrics {
            root.insert(name.clone(), json!(value));
        }
        let dimension_set: Vec<&str> = self.dimensions.iter().map(|(name, _)| name.as_str()).collect();
        let metrics: Vec<Value> =
            self.metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": at.unix_millis(),
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dimension_set], "Metrics": metrics}],
            }),
        );
        Value::Object(root).to_string()
    }

    /// Writes the line to standard output, where Lambda sends it to CloudWatch Logs.
    pub fn emit(&self, at: Timestamp) {
        println!("{}", self.render(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_its_metrics_and_dimensions_as_members() {
        let line = MetricLine::new()
            .dimension("Function", "post-traffic")
            .metric("Failed", 1.0, Unit::Count)
            .metric("DurationMs", 412.0, Unit::Milliseconds)
            .metric("Rule error-rate PValue", f64::NAN, Unit::None)
            .property("report", json!({"verdict": "Failed"}))
            .render(Timestamp::from_unix_millis(1_700_000_000_123));
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_123_u64);
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Failed", "Unit": "Count"}, {"Name": "DurationMs", "Unit": "Milliseconds"}])
        );
        assert_eq!((value["Function"].as_str(), value["Failed"].as_f64()), (Some("post-traffic"), Some(1.0)));
        assert_eq!(value["report"]["verdict"], "Failed", "the report is an object, not a string");
        assert!(value.get("Rule error-rate PValue").is_none(), "NaN is no metric");
    }

    #[test]
    fn at_most_a_hundred_metrics() {
        let line =
            (0..150).fold(MetricLine::new(), |line, i| line.metric(&format!("m{i}"), 1.0, Unit::Count));
        let value: Value = serde_json::from_str(&line.render(Timestamp::from_unix_millis(0))).unwrap();
        assert_eq!(value["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), MAX_METRICS);
    }
}
