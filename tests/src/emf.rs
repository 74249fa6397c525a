//! Embedded Metric Format lines read as CloudWatch Logs reads them ("Specification: Embedded
//! metric format" in the CloudWatch user guide): a JSON object whose `_aws` member has a
//! `Timestamp` (milliseconds) and `CloudWatchMetrics` directives, each with a `Namespace`, up to
//! 30 dimensions per set each naming a string member, and up to 100 `Metrics` each naming a
//! number (or array of numbers) member. A line that breaks a rule makes the test fail, naming it.

use serde_json::Value;
use std::collections::BTreeMap;

/// The metrics CloudWatch would extract from one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// The directive's namespace.
    pub namespace: String,
    /// Dimension name to value (of the line's one dimension set).
    pub dimensions: BTreeMap<String, String>,
    /// Metric name to value.
    pub metrics: BTreeMap<String, f64>,
    /// The whole line.
    pub line: Value,
}

/// Reads `text` as an EMF line; panics naming the rule it breaks.
pub fn extract(text: &str) -> Extracted {
    let line: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let aws = &line["_aws"];
    assert!(aws["Timestamp"].is_u64(), "_aws.Timestamp must be a number of milliseconds: {text}");
    let directives =
        aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("no CloudWatchMetrics: {text}"));
    assert_eq!(directives.len(), 1, "one directive per line here: {text}");
    let directive = &directives[0];
    let namespace =
        directive["Namespace"].as_str().unwrap_or_else(|| panic!("no Namespace: {text}")).to_owned();
    let sets = directive["Dimensions"].as_array().unwrap_or_else(|| panic!("no Dimensions: {text}"));
    let mut dimensions = BTreeMap::new();
    for set in sets {
        let names = set.as_array().unwrap_or_else(|| panic!("a dimension set is an array: {text}"));
        assert!(names.len() <= 30, "at most 30 dimensions in a set: {text}");
        for name in names {
            let name = name.as_str().unwrap_or_else(|| panic!("a dimension name is a string: {text}"));
            let value = line[name]
                .as_str()
                .unwrap_or_else(|| panic!("dimension {name} has no string member: {text}"));
            dimensions.insert(name.to_owned(), value.to_owned());
        }
    }
    let named = directive["Metrics"].as_array().unwrap_or_else(|| panic!("no Metrics: {text}"));
    assert!(named.len() <= 100, "at most 100 metrics in a directive: {text}");
    let mut metrics = BTreeMap::new();
    for metric in named {
        let name = metric["Name"].as_str().unwrap_or_else(|| panic!("a metric without a Name: {text}"));
        let value =
            line[name].as_f64().unwrap_or_else(|| panic!("metric {name} has no number member: {text}"));
        metrics.insert(name.to_owned(), value);
    }
    Extracted { namespace, dimensions, metrics, line }
}

/// The EMF lines (JSON objects with `_aws`) in a log's text, wherever a line's object starts (a
/// log collector may prefix it).
pub fn lines_in(log: &str) -> Vec<Extracted> {
    log.lines()
        .filter(|line| line.contains("\"_aws\""))
        .filter_map(|line| line.find('{').map(|start| extract(&line[start..])))
        .collect()
}
