//! The real function binaries behind the Lambda Runtime API: `cargo lambda watch` serves every
//! binary of the workspace (compiling it on its first invocation), `cargo lambda invoke` sends
//! it an event. The watch process (and everything it started) is killed on drop.
//!
//! Under `cargo lambda watch` a function's `AWS_LAMBDA_FUNCTION_NAME` is its binary name, so a
//! deployment whose hooks are the real binaries names [`PRE_TRAFFIC_HOOK`] (`BeforeAllowTraffic`)
//! and [`POST_TRAFFIC_HOOK`] (`AfterAllowTraffic`) in its AppSpec.

use crate::iam::Principal;
use crate::{ACCOUNT, TempFile, repo_root, unique};
use lifeguard_hooks::settings::FUNCTION_ARN_VAR;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The pre-traffic hook's function name under `cargo lambda watch`: its binary name.
pub const PRE_TRAFFIC_HOOK: &str = "pre-traffic";
/// The post-traffic hook's function name under `cargo lambda watch`: its binary name.
pub const POST_TRAFFIC_HOOK: &str = "post-traffic";

/// How long `cargo lambda watch` may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one invocation may take, including compiling the binary on its first invocation.
pub const INVOKE_TIMEOUT: Duration = Duration::from_mins(10);

/// Environment variables handed to the functions (when set in this process).
const AWS_VARS: [&str; 9] = [
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "RUST_LOG",
];

/// A running `cargo lambda watch`, killed with its process group on drop.
#[derive(Debug)]
pub struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
    /// The functions' environment, read by `cargo lambda watch` when it starts them.
    _env_file: TempFile,
}

/// What `cargo lambda invoke` printed.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// Whether it exited successfully (the function returned without an error).
    pub success: bool,
    /// Standard output: the function's response.
    pub stdout: String,
    /// Standard error: the error, when the function returned one.
    pub stderr: String,
}

impl Invoked {
    /// The response as JSON; panics with both outputs when there is none.
    pub fn json(&self) -> Value {
        assert!(self.success, "the invocation failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.stdout))
    }
}

/// `PATH` with the project's `.venv/bin` (where cargo-lambda is installed) first.
fn path_with_venv() -> String {
    let venv = repo_root().join(".venv/bin");
    let path = std::env::var("PATH").unwrap_or_default();
    if venv.is_dir() { format!("{}:{path}", venv.display()) } else { path }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Runs `command` with its output in temporary files, killing it after `timeout`.
fn run_bounded(mut command: Command, timeout: Duration, what: &str) -> (Option<ExitStatus>, String, String) {
    let out = TempFile::new(".out", "");
    let err = TempFile::new(".err", "");
    command
        .stdin(Stdio::null())
        .stdout(File::create(out.path()).expect("stdout file"))
        .stderr(File::create(err.path()).expect("stderr file"));
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("wait for the child") {
            Some(status) => break Some(status),
            None if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let read = |file: &TempFile| std::fs::read_to_string(file.path()).unwrap_or_default();
    (status, read(&out), read(&err))
}

impl Watch {
    /// Starts `cargo lambda watch` at the workspace root on a free port, with `env` and the
    /// AWS variables of this process (those `env` does not set) handed to the functions, and
    /// waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("{}-watch.log", unique("watch")));
        let mut command = Command::new("cargo");
        command
            .current_dir(repo_root())
            .env("PATH", path_with_venv())
            .args(["lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()]);
        let inherited = AWS_VARS
            .iter()
            .filter(|k| !env.iter().any(|(given, _)| given == *k))
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)));
        let given = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        // cargo lambda passes the invoked ARN `function-arn`: give the hooks a real one, in the
        // local AWS's account, as Lambda would.
        let own_arn = (!env.iter().any(|(given, _)| *given == FUNCTION_ARN_VAR)).then(|| {
            let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
            (
                FUNCTION_ARN_VAR.to_owned(),
                format!("arn:aws:lambda:{region}:{ACCOUNT}:function:lifeguard-hook"),
            )
        });
        // An env file, not --env-var: that option splits values at commas.
        let lines = inherited.chain(given).chain(own_arn).fold(String::new(), |mut lines, (key, value)| {
            // Single-quoted: taken literally (spaces, commas, `$`), so no `'` or line break inside.
            assert!(!value.contains(['\n', '\'']), "an environment value on one line, without ': {key}");
            writeln!(lines, "{key}='{value}'").expect("writing to a String");
            lines
        });
        let env_file = TempFile::new(".env", &lines);
        command.arg("--env-file").arg(env_file.path());
        let log_file = File::create(&log).expect("watch log file");
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .process_group(0);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start `cargo lambda watch` ({e}); install the tools with ./dev setup")
        });
        let mut watch = Self { child, port, log, _env_file: env_file };
        let started = Instant::now();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return watch;
            }
            if let Ok(Some(status)) = watch.child.try_wait() {
                panic!("`cargo lambda watch` exited ({status}) before listening:\n{}", watch.log_tail());
            }
            assert!(
                started.elapsed() <= START_TIMEOUT,
                "`cargo lambda watch` did not listen within {START_TIMEOUT:?}:\n{}",
                watch.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the watch the way the hooks are deployed for the loyalty example: its check file,
    /// and the functions signing as `principal` (the hook's role).
    pub fn start_with_repo_checks(principal: &Principal) -> Self {
        Self::start_for_example(principal, LOYALTY_CHECKS)
    }

    /// Starts the watch the way the hooks are deployed for an example app: its check file
    /// (`checks`, from the repository root) as the checks layer would place it, and the functions
    /// signing as `principal` (the hook's role).
    pub fn start_for_example(principal: &Principal, checks: &str) -> Self {
        let checks = repo_root().join(checks);
        Self::start(&[
            ("LIFEGUARD_CHECKS_FILE", checks.to_str().expect("a UTF-8 path")),
            ("AWS_ACCESS_KEY_ID", &principal.access_key),
        ])
    }

    /// The port it serves invocations on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The last lines of its log (cargo's output and the functions' logs).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Invokes `function` with the event in `data_file`.
    pub fn invoke_file(&self, function: &str, data_file: &Path) -> Invoked {
        self.invoke(function, &["--data-file", data_file.to_str().expect("a UTF-8 path")])
    }

    /// Invokes `function` with `event`.
    pub fn invoke_json(&self, function: &str, event: &Value) -> Invoked {
        self.invoke(function, &["--data-ascii", &event.to_string()])
    }

    fn invoke(&self, function: &str, data: &[&str]) -> Invoked {
        let mut command = Command::new("cargo");
        command
            .current_dir(repo_root())
            .env("PATH", path_with_venv())
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1", "--output-format", "json"])
            .args(["--invoke-port", &self.port.to_string(), function])
            .args(data);
        let (status, stdout, stderr) = run_bounded(command, INVOKE_TIMEOUT, "cargo lambda invoke");
        match status {
            Some(status) => Invoked { success: status.success(), stdout, stderr },
            None => panic!(
                "`cargo lambda invoke {function}` did not finish within {INVOKE_TIMEOUT:?}\nwatch log:\n{}",
                self.log_tail()
            ),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Processes it started may sit in process groups of their own: collect them first.
        let descendants = descendants(self.child.id());
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let stopped = Instant::now();
        while stopped.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        for pid in descendants {
            if std::fs::metadata(format!("/proc/{pid}")).is_ok() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
            }
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Every live descendant of `pid`, from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // Fields after the command name (which is in parentheses and may hold spaces).
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if let Some(parent) = parent.and_then(|p| p.parse::<u32>().ok()) {
            parents.push((child, parent));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// The sample app's answers, from the real `loyalty` binary, for every payload the check file
/// sends to `LoyaltyFunction`, as scripted behaviours of version `version` (the body's `version`
/// is the answering version, as the deployed function would report it).
pub fn loyalty_behaviours(
    watch: &Watch,
    check_file: &lifeguard_hooks::checks::CheckFile,
    version: &str,
) -> Vec<Value> {
    check_payloads(check_file, "LoyaltyFunction")
        .into_iter()
        .map(|payload| {
            let mut answer = watch.invoke_json("loyalty", &payload).json();
            let body = answer["body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok());
            if let Some(mut body) = body.filter(|b| b.get("version").is_some()) {
                body["version"] = json!(version);
                answer["body"] = json!(body.to_string());
            }
            crate::behaviour::when(payload, crate::behaviour::answer(answer))
        })
        .collect()
}

/// Every distinct payload the check file sends to `function` (a check-file key), in file order.
pub fn check_payloads(check_file: &lifeguard_hooks::checks::CheckFile, function: &str) -> Vec<Value> {
    let checks = check_file.functions.get(function).unwrap_or_else(|| panic!("no checks for {function}"));
    let mut payloads: Vec<Value> = Vec::new();
    for check in checks {
        if !payloads.contains(&check.event()) {
            payloads.push(check.event());
        }
    }
    payloads
}

/// Runs a Python handler (`module.function` in `code_dir`, as a SAM `Handler` names it) for real
/// with the machine's `python3`, once per payload, as Lambda would run version `version`
/// (`AWS_LAMBDA_FUNCTION_VERSION`); its answers as scripted behaviours of that version.
pub fn python_behaviours(code_dir: &Path, handler: &str, payloads: &[Value], version: &str) -> Vec<Value> {
    let (module, function) =
        handler.rsplit_once('.').unwrap_or_else(|| panic!("handler {handler} is not module.function"));
    let script = format!(
        "import json, sys\nfrom {module} import {function} as handler\n\
         print(json.dumps([handler(event, None) for event in json.load(sys.stdin)]))"
    );
    let input = TempFile::new(".json", &Value::from(payloads.to_vec()).to_string());
    let mut command = Command::new("python3");
    command
        .current_dir(code_dir)
        .env("AWS_LAMBDA_FUNCTION_VERSION", version)
        .args(["-c", &script])
        .stdin(File::open(input.path()).expect("the payloads file"));
    let output = command.output().unwrap_or_else(|e| panic!("cannot run python3 for {handler}: {e}"));
    assert!(output.status.success(), "{handler} failed: {}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{handler} printed no JSON list ({e}): {}", String::from_utf8_lossy(&output.stdout))
    });
    payloads
        .iter()
        .zip(answers)
        .map(|(payload, answer)| crate::behaviour::when(payload.clone(), crate::behaviour::answer(answer)))
        .collect()
}

/// `events/pre-traffic.json` with the deployment's ids, in a temporary file.
pub fn pre_traffic_event(deployment_id: &str, execution_id: &str) -> TempFile {
    sample_event("events/pre-traffic.json", deployment_id, execution_id)
}

/// `events/post-traffic.json` with the deployment's ids, in a temporary file.
pub fn post_traffic_event(deployment_id: &str, execution_id: &str) -> TempFile {
    sample_event("events/post-traffic.json", deployment_id, execution_id)
}

fn sample_event(file: &str, deployment_id: &str, execution_id: &str) -> TempFile {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    event["DeploymentId"] = json!(deployment_id);
    event["LifecycleEventHookExecutionId"] = json!(execution_id);
    TempFile::new(".json", &event.to_string())
}

/// A broken release of the sample app: `behaviours` (from [`loyalty_behaviours`]) with alice
/// answered as Silver instead of Gold.
pub fn says_silver_for_alice(mut behaviours: Vec<Value>) -> Vec<Value> {
    for behaviour in &mut behaviours {
        if behaviour["whenPayload"] == json!({"customerId": "alice"}) {
            let mut body: Value = behaviour["payload"]["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .expect("alice's answer has a JSON body");
            body["level"] = json!("Silver");
            behaviour["payload"]["body"] = json!(body.to_string());
        }
    }
    behaviours
}

/// The loyalty example's check file, from the repository root.
pub const LOYALTY_CHECKS: &str = "examples/loyalty/checks/checks.yaml";
/// The python-orders example's check file, from the repository root.
pub const ORDERS_CHECKS: &str = "examples/python-orders/checks/checks.yaml";
/// The python-orders example's handlers (its `CodeUri`), from the repository root.
pub const ORDERS_CODE: &str = "examples/python-orders/orders";

/// The loyalty example's check file ([`LOYALTY_CHECKS`]).
pub fn repo_check_file() -> lifeguard_hooks::checks::CheckFile {
    example_check_file(LOYALTY_CHECKS)
}

/// An example's check file, by its path from the repository root.
pub fn example_check_file(checks: &str) -> lifeguard_hooks::checks::CheckFile {
    let path = repo_root().join(checks);
    lifeguard_hooks::checks::CheckFile::load(path.to_str().expect("a UTF-8 path"))
        .unwrap_or_else(|e| panic!("{e}"))
}
