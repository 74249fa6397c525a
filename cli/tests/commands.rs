//! The `lifeguard` commands that read AWS, run as processes (the real binary) against the local
//! AWS with the environment `./dev test` sets (the local AWS's endpoint and test credentials),
//! their output and exit status; the local AWS is seeded through the tests crate's fixtures.

use lifeguard_common::time::Timestamp;
use lifeguard_tests::behaviour::{answer, api};
use lifeguard_tests::{FunctionSpec, LocalAws, Noise, TempFile, Traffic, unique};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::Duration;

const CHECKS: &str = "
functions:
  SampleFunction:
    - name: answers-ok
      http: {method: GET, path: /status}
      expect:
        statusCode: 200
        matches: {/body/ok: {equals: true}}
";

fn lifeguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeguard")).args(args).output().expect("the lifeguard binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn probe_judges_a_deployed_version_and_its_exit_status_follows() {
    let aws = LocalAws::connect().await;
    let function = unique("cli-probe");
    aws.seed_function(FunctionSpec::new(&function, 2, "SampleFunction")).await;
    aws.script(&function, "1", vec![answer(api(200, json!({"ok": true})))]);
    aws.script(&function, "2", vec![answer(api(200, json!({"ok": false})))]);
    let checks = TempFile::new(".yaml", CHECKS);
    let path = checks.path().to_str().unwrap();

    let good = lifeguard(&[
        "probe",
        "--function",
        &function,
        "--qualifier",
        "1",
        "--checks",
        path,
        "--key",
        "SampleFunction",
        "--json",
    ]);
    assert_eq!(good.status.code(), Some(0), "{}{}", stdout(&good), String::from_utf8_lossy(&good.stderr));
    let report: Value = serde_json::from_str(&stdout(&good)).unwrap();
    assert_eq!(report["verdict"], "Succeeded", "{report:#}");
    let sent = aws.invocations(&function);
    assert_eq!(sent[0]["payload"]["httpMethod"], "GET", "the http: shorthand's event: {sent:?}");

    let bad = lifeguard(&[
        "probe",
        "--function",
        &function,
        "--qualifier",
        "2",
        "--checks",
        path,
        "--key",
        "SampleFunction",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let text = stdout(&bad);
    assert!(
        text.starts_with(&format!("Failed {function}:2: "))
            && text.contains("/body/ok is false, expected true"),
        "{text}"
    );

    let usage = lifeguard(&["probe", "--function", &function]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--function and --qualifier are required"));
}

#[tokio::test]
async fn analyze_judges_two_versions_on_their_metrics() {
    let aws = LocalAws::connect().await;
    let function = unique("cli-analyze");
    let start = Timestamp::now().minus(Duration::from_mins(11));
    let baseline =
        Traffic { invocations: 300, error_rate: 0.01, duration_ms: 100.0, jitter: 0.05, tail_ms: None };
    let mut noise = Noise::new(3);
    aws.put_lambda_metrics(&function, "live", "1", start, &baseline.minutes(10, &mut noise)).await;
    aws.put_lambda_metrics(
        &function,
        "live",
        "2",
        start,
        &Traffic { error_rate: 0.08, ..baseline }.minutes(10, &mut noise),
    )
    .await;
    aws.put_lambda_metrics(&function, "live", "3", start, &baseline.minutes(10, &mut noise)).await;
    let checks = TempFile::new(".yaml", "analysis: {}\n");
    let path = checks.path().to_str().unwrap();

    let bad = lifeguard(&[
        "analyze",
        "--function",
        &function,
        "--canary",
        "2",
        "--baseline",
        "1",
        "--since",
        "15m",
        "--checks",
        path,
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    let text = stdout(&bad);
    assert!(text.lines().any(|l| l.contains("fail/fail") && l.contains("error-rate")), "{text}");

    let good = lifeguard(&[
        "analyze",
        "--function",
        &function,
        "--canary",
        "3",
        "--baseline",
        "1",
        "--since",
        "15m",
        "--checks",
        path,
        "--json",
    ]);
    assert_eq!(good.status.code(), Some(0), "{}", stdout(&good));
    let findings: Value = serde_json::from_str(&stdout(&good)).unwrap();
    let names: Vec<&str> =
        findings["rules"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(names, ["error-rate", "latency", "latency-p99", "throttles"], "the default rules");
    assert_eq!(
        lifeguard(&["analyze", "--function", &function, "--canary", "2", "--baseline", "1", "--since", "1d"])
            .status
            .code(),
        Some(2)
    );
}

#[tokio::test]
async fn plan_reads_traffic_and_fails_cleanly_without_a_function() {
    let aws = LocalAws::connect().await;
    let function = unique("cli-plan");
    let start = Timestamp::now().minus(Duration::from_mins(61));
    let traffic =
        Traffic { invocations: 3000, error_rate: 0.01, duration_ms: 50.0, jitter: 0.0, tail_ms: None };
    aws.put_lambda_metrics(&function, "live", "1", start, &traffic.minutes(60, &mut Noise::new(1))).await;
    // plan reads FunctionName alone, as Lambda also publishes it: put that view too.
    aws.put_function_totals(&function, start, 60, 3000, 30).await;
    let output = lifeguard(&["plan", "--function", &function, "--days", "1", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(plan["traffic"]["invocations"], 180_000);
    assert_eq!(plan["plans"].as_array().unwrap().len(), 9);
    assert_eq!(lifeguard(&["plan"]).status.code(), Some(2));
}
