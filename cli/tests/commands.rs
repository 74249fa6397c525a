//! The `lifeguard` commands that read AWS, run as processes (the real binary) against the local
//! AWS with the environment `./dev test` sets (the local AWS's endpoint and test credentials),
//! their output and exit status; the local AWS is seeded through the tests crate's fixtures.

use lifeguard_common::time::Timestamp;
use lifeguard_tests::behaviour::{answer, api};
use lifeguard_tests::{FunctionSpec, LocalAws, Noise, TempDir, TempFile, Traffic, unique};
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

/// A check file using every part of the format, valid for the hooks.
const EVERY_PART: &str = r#"
settings: {maxConcurrency: 4, defaultMaxLatencyMs: 2000}
functions:
  Api:
    - name: get-order
      http:
        api: http
        method: GET
        path: /orders/7
        query: {verbose: "1"}
        headers: {accept: application/json}
        pathParameters: {id: "7"}
      repeat: 2
      expect:
        statusCode: 200
        values: {/body/id: 7}
        matches:
          /body/total: {min: 0, max: 1000, type: number}
          /body/state: {oneOf: [open, paid]}
          /body/note: {absent: true}
          /body/ref: {regex: "^R[0-9]+$", exists: true}
        headers:
          content-type: application/json
          x-request-id: {regex: "."}
        maxLatencyMs: 800
      compareWithCurrent: {ignore: [/body/version]}
    - name: raw
      payload: {ping: true}
analysis:
  Api:
    alarms: [api-errors]
    rules:
      - {name: errors, kind: errorRate, minRatio: 2, requirePower: true}
      - name: p99
        kind: seriesComparison
        metric: {name: Duration, statistic: p99.9, dimensions: {FunctionName: "{function}"}}
        warmUpPeriods: 2
        mode: observe
        twoSided: true
      - name: throttles
        kind: threshold
        metric: {namespace: AWS/Lambda, name: Throttles, statistic: Sum}
        threshold: 0
        aggregate: max
        onNoData: pass
        onInconclusive: fail
"#;

/// Mistakes of shape, each refused by the hooks (`check-file`), so the schema must refuse it too.
const MISTAKES: [(&str, &str); 10] = [
    ("unknown top-level key", "setting: {maxConcurrency: 2}\n"),
    ("repeat 0", "functions:\n  F:\n    - {name: a, repeat: 0}\n"),
    ("unknown matcher", "functions:\n  F:\n    - {name: a, expect: {matches: {/x: {regexp: a}}}}\n"),
    ("empty matcher", "functions:\n  F:\n    - {name: a, expect: {matches: {/x: {}}}}\n"),
    ("payload and http", "functions:\n  F:\n    - {name: a, payload: {}, http: {method: GET, path: /}}\n"),
    ("lowercase method", "functions:\n  F:\n    - {name: a, http: {method: get, path: /}}\n"),
    ("pointer without /", "functions:\n  F:\n    - {name: a, expect: {values: {body/x: 1}}}\n"),
    ("zero budget", "functions:\n  F:\n    - {name: a, expect: {maxLatencyMs: 0}}\n"),
    ("rule kind typo", "analysis:\n  F:\n    rules: [{name: e, kind: errorrate}]\n"),
    (
        "statistic typo",
        "analysis:\n  F:\n    rules: [{name: l, kind: threshold, threshold: 1, metric: {name: D, statistic: P99}}]\n",
    ),
];

/// The schema `lifeguard schema` prints, applied by Python's `jsonschema` (draft 2020-12) to the
/// examples' check files, to [`EVERY_PART`] and to [`MISTAKES`]: it accepts what the hooks accept
/// and refuses each mistake, which `check-file` refuses too.
#[test]
fn schema_agrees_with_the_hooks_on_the_examples_and_on_mistakes() {
    let printed = lifeguard(&["schema"]);
    assert_eq!(printed.status.code(), Some(0));
    let schema = TempFile::new(".json", &stdout(&printed));
    let root = lifeguard_tests::repo_root();
    let mut documents: Vec<(String, String)> =
        ["examples/loyalty/checks/checks.yaml", "examples/python-orders/checks/checks.yaml"]
            .iter()
            .map(|path| {
                ((*path).to_owned(), std::fs::read_to_string(root.join(path)).expect("an example check file"))
            })
            .collect();
    documents.push(("every part".into(), EVERY_PART.into()));
    documents.extend(MISTAKES.iter().map(|(name, text)| ((*name).to_owned(), (*text).to_owned())));
    for (name, text) in &documents {
        let file = TempFile::new(".yaml", text);
        let checked = lifeguard(&["check-file", file.path().to_str().unwrap()]);
        let mistake = MISTAKES.iter().any(|(m, _)| m == name);
        assert_eq!(
            checked.status.code(),
            Some(i32::from(mistake)),
            "check-file on {name}: {}{}",
            stdout(&checked),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    let script = "import json, sys, yaml, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  jsonschema.Draft202012Validator.check_schema(schema)\n\
                  validator = jsonschema.Draft202012Validator(schema)\n\
                  print(json.dumps({name: [e.message for e in validator.iter_errors(yaml.safe_load(text))] \
                  for name, text in json.load(sys.stdin)}))";
    let mut python = Command::new(root.join(".venv/bin/python"))
        .args(["-c", script, schema.path().to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the project venv's python (./dev setup)");
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), json!(documents).to_string().as_bytes())
        .unwrap();
    let ran = python.wait_with_output().unwrap();
    assert!(ran.status.success(), "jsonschema did not run");
    let errors: Value = serde_json::from_slice(&ran.stdout).unwrap();
    for (name, _) in &documents {
        let found = errors[name].as_array().expect("errors per document");
        if MISTAKES.iter().any(|(m, _)| m == name) {
            assert!(!found.is_empty(), "the schema accepts the mistake {name:?}");
        } else {
            assert!(found.is_empty(), "the schema refuses {name}: {found:?}");
        }
    }
}

/// The wheel `cli/wheel.py` builds around this binary, installed with pip into a fresh venv (no
/// index, no Rust on the path), gives a working `lifeguard` command there.
#[test]
fn the_wheel_installs_the_command_into_a_fresh_venv() {
    let root = lifeguard_tests::repo_root();
    let work = TempDir::new();
    let built = Command::new("python3")
        .arg(root.join("cli/wheel.py"))
        .args([env!("CARGO_BIN_EXE_lifeguard"), work.path().join("dist").to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let wheel = stdout(&built).trim().to_owned();
    let version = env!("CARGO_PKG_VERSION");
    let expected = format!("lifeguard-{version}-py3-none-linux_");
    assert!(
        wheel.contains(&expected) && wheel.rsplit_once('.').is_some_and(|(_, ext)| ext == "whl"),
        "{wheel}"
    );
    let venv = work.path().join("venv");
    let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 -m venv");
    assert!(created.success());
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-index", "--disable-pip-version-check", &wheel])
        .output()
        .expect("the venv's pip");
    assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));

    let command = venv.join("bin/lifeguard");
    let run = |args: &[&str]| {
        Command::new(&command).args(args).current_dir(&root).env("PATH", "/usr/bin:/bin").output().unwrap()
    };
    let checked = run(&["check-file", "examples/loyalty/checks/checks.yaml"]);
    assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(stdout(&checked).contains("checks.yaml: ok ("), "{}", stdout(&checked));
    let refused = run(&["check-file", "README.md"]);
    assert_eq!(refused.status.code(), Some(1), "a file that is no check file");
    let shown = Command::new(venv.join("bin/pip")).args(["show", "lifeguard"]).output().unwrap();
    assert!(stdout(&shown).contains(&format!("Version: {version}")), "{}", stdout(&shown));
}

/// `reaper plan` with the deployed reaper's settings (its function's `REAPER_*` environment), two
/// days after four stacks were created: the expired one would get its first notice, the one
/// outside the allowlist and the protected name are skipped, the fresh one kept. Its calls are
/// reads only: no lease, mark, notice or deletion; every stack is still there.
#[tokio::test]
async fn reaper_plan_shows_a_run_ahead_and_changes_nothing() {
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let aws = LocalAws::connect_isolated("ap-northeast-3").await;
    let template = lifeguard_tests::stack_template(&[], &[]);
    let owned = |ttl| {
        [("lifeguard:temporary", "true"), ("lifeguard:owner", "alice@example.com"), ("lifeguard:ttl", ttl)]
    };
    let created = Timestamp::now();
    aws.create_stack("app-expired", &template, &owned("1d"), false).await;
    aws.create_stack("app-fresh", &template, &owned("30d"), false).await;
    aws.create_stack("other-expired", &template, &owned("1d"), false).await;
    aws.create_stack("lifeguard", &template, &owned("1d"), false).await;
    let table = aws.create_marks_table("cli-marks").await;
    let (topic, _queue) = aws.topic_with_queue("cli-notices").await;
    let function = unique("cli-reaper");
    let settings = [
        ("REAPER_MODE", "enforce"),
        ("REAPER_ALLOWED_STACKS", "app-*"),
        ("REAPER_MARKS_TABLE", table.as_str()),
        ("REAPER_TOPIC_ARN", topic.as_str()),
    ];
    let mut environment = Environment::builder();
    for (name, value) in settings {
        environment = environment.variables(name, value);
    }
    aws.lambda
        .create_function()
        .function_name(&function)
        .runtime(Runtime::Providedal2023)
        .role(aws.role_arn())
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new("reaper")).build())
        .environment(environment.build())
        .send()
        .await
        .expect("CreateFunction");
    let before = aws.request_counts();
    let at = created.plus(Duration::from_hours(48)).to_string();
    let region = aws.sdk.region().expect("a region").to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lifeguard"))
            .args(args)
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", &region)
            .env("AWS_ACCESS_KEY_ID", &aws.access_key)
            .output()
            .expect("the lifeguard binary runs")
    };

    let planned = run(&["reaper", "plan", "--function", &function, "--at", &at, "--json"]);
    let stderr = String::from_utf8_lossy(&planned.stderr);
    assert_eq!(planned.status.code(), Some(0), "{}{stderr}", stdout(&planned));
    let report: Value = serde_json::from_str(&stdout(&planned)).unwrap();
    assert_eq!((report["mode"].as_str(), report["at"].as_str()), (Some("enforce"), Some(at.as_str())));
    let decision = |name: &str| {
        let stacks = report["stacks"].as_array().expect("stacks");
        let stack =
            stacks.iter().find(|s| s["stack"] == name).unwrap_or_else(|| panic!("{name}: {report:#}"));
        format!("{}/{}", stack["action"].as_str().unwrap(), stack["reason"].as_str().unwrap())
    };
    assert_eq!(decision("app-expired"), "warn/expired-first-notice", "{report:#}");
    assert_eq!(decision("app-fresh"), "keep/not-expired", "{report:#}");
    assert_eq!(decision("other-expired"), "skip/not-allowed", "{report:#}");
    assert_eq!(decision("lifeguard"), "skip/protected-name", "{report:#}");

    let table_output = run(&["reaper", "plan", "--function", &function, "--at", &at]);
    assert_eq!(table_output.status.code(), Some(0));
    let text = stdout(&table_output);
    assert!(
        text.lines().any(|l| l.starts_with("app-expired") && l.contains("expired-first-notice")),
        "{text}"
    );
    assert!(text.contains("4 stacks:"), "{text}");

    let after = aws.request_counts();
    let made: Vec<(&String, u64)> = after
        .iter()
        .map(|(call, n)| (call, n - before.get(call).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // Query-protocol operations by name, Lambda's REST ones by method and path.
    let reads = ["List", "Describe", "Get", "Query", "Scan", "GET /"];
    let is_read =
        |call: &str| call.split_once('.').is_some_and(|(_, op)| reads.iter().any(|r| op.starts_with(r)));
    assert!(
        made.iter().all(|(call, _)| is_read(call)),
        "reaper plan made a call that is not a read: {made:?}"
    );
    assert!(
        made.iter().any(|(call, _)| call.ends_with(&format!("/functions/{function}/configuration"))),
        "{made:?}"
    );
    assert!(made.iter().any(|(call, _)| call.as_str() == "dynamodb.Scan"), "the marks are read: {made:?}");
    let left: Vec<String> = aws.stack_names().await.into_iter().collect();
    assert_eq!(left, ["app-expired", "app-fresh", "lifeguard", "other-expired"]);

    // Without settings, the run would stop before any call: so does the plan.
    let unset = run(&["reaper", "plan", "--function", "no-such-function"]);
    assert_eq!(unset.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unset.stderr).contains("GetFunctionConfiguration"), "{unset:?}");
}

/// `explain` on a deployment whose pre-traffic hook ran (in-process, under its role) and logged
/// its report to the log group its function's logging configuration names, as Lambda ships the
/// hook's metrics line (the report at its root: `runtime.rs` checks the real binary writes it so),
/// and whose post-traffic hook never ran: the first hook's verdict and checks, the second listed
/// without a report; only this deployment's line is taken.
#[tokio::test]
async fn explain_tells_what_each_hook_decided() {
    use aws_sdk_lambda::types::{FunctionCode, LoggingConfig, Runtime};
    use lifeguard_hooks::deployment::LifecycleEvent;
    let aws = LocalAws::connect().await;
    let function = unique("cli-explain");
    aws.seed_function(FunctionSpec::new(&function, 2, "SampleFunction")).await;
    aws.script(&function, "2", vec![answer(api(200, json!({"ok": true})))]);
    let (pre_hook, post_hook) = (unique("explain-pre"), unique("explain-post"));
    let log_group = format!("/lifeguard/{pre_hook}");
    for (hook, group) in [(&pre_hook, Some(&log_group)), (&post_hook, None)] {
        let mut create = aws
            .lambda
            .create_function()
            .function_name(hook)
            .runtime(Runtime::Providedal2023)
            .role(aws.role_arn())
            .handler("bootstrap")
            .code(FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new("hook")).build());
        if let Some(group) = group {
            create = create.logging_config(LoggingConfig::builder().log_group(group).build());
        }
        create.send().await.expect("CreateFunction");
    }
    let mut spec = lifeguard_tests::DeploymentSpec::new(&function, Some("1"), "2", &pre_hook);
    spec.resource = "SampleFunction".into();
    spec.hooks.push((LifecycleEvent::AfterAllowTraffic, post_hook.clone()));
    let deployment = aws.seed_deployment(&spec).await;
    let hook = aws.hook_with_checks(CHECKS, &pre_hook, &deployment.application);
    let report =
        hook.handle(deployment.event(), Duration::from_mins(1), &aws.function_arn(&pre_hook)).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert_eq!(report["verdict"], "Succeeded", "{report:#}");

    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws.sdk);
    logs.create_log_group().log_group_name(&log_group).send().await.expect("CreateLogGroup");
    logs.create_log_stream()
        .log_group_name(&log_group)
        .log_stream_name("s")
        .send()
        .await
        .expect("CreateLogStream");
    let mut other = report.clone();
    other["deploymentId"] = json!("d-OTHER0000");
    other["verdict"] = json!("Failed");
    let now = Timestamp::now().unix_millis();
    let lines = [
        json!({"level": "INFO", "fields": {"message": "deployment found", "deployment": deployment.deployment_id}}),
        json!({"_aws": {"Timestamp": now}, "report": report}),
        json!({"_aws": {"Timestamp": now}, "report": other}),
    ];
    let mut put = logs.put_log_events().log_group_name(&log_group).log_stream_name("s");
    for line in &lines {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now)
                .message(line.to_string())
                .build()
                .unwrap(),
        );
    }
    put.send().await.expect("PutLogEvents");

    let explained = lifeguard(&["explain", &deployment.deployment_id, "--json"]);
    assert_eq!(explained.status.code(), Some(0), "{}", String::from_utf8_lossy(&explained.stderr));
    let explanation: Value = serde_json::from_str(&stdout(&explained)).unwrap();
    assert_eq!(explanation["function"], function.as_str());
    assert_eq!(
        (explanation["currentVersion"].as_str(), explanation["targetVersion"].as_str()),
        (Some("1"), Some("2"))
    );
    let hooks = explanation["hooks"].as_array().expect("hooks");
    assert_eq!(hooks.len(), 2, "{explanation:#}");
    assert_eq!(hooks[0]["logGroup"], log_group.as_str(), "from the function's logging configuration");
    assert_eq!(hooks[0]["report"], report, "this deployment's report, whole");
    assert_eq!(hooks[1]["logGroup"], format!("/aws/lambda/{post_hook}"), "Lambda's default group");
    assert!(hooks[1]["problem"].as_str().is_some_and(|p| p.contains("has never logged")), "{explanation:#}");
    assert!(explanation.get("error").is_some_and(Value::is_null), "no error yet: {explanation:#}");

    let table = lifeguard(&["explain", &deployment.deployment_id]);
    let text = stdout(&table);
    assert!(text.contains(&format!("BeforeAllowTraffic {pre_hook}: Succeeded")), "{text}");
    assert!(text.contains("check pass  answers-ok"), "{text}");
    let unknown = lifeguard(&["explain", "d-NOSUCH000"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", stdout(&unknown));
}
