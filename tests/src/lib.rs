//! Fixtures for the integration tests and the local rehearsal: the local AWS stand-in (moto plus
//! `localaws/launcher.py`), seeding it through the real AWS SDK (Lambda, CodeDeploy, and
//! CloudWatch metrics and alarms for the post-traffic analysis), its `/_lifeguard/` control API
//! (scripted invoke answers, injected faults, read-back of hook reports and invocations), and the
//! real hook binaries run through `cargo lambda watch` ([`watch`]).
//!
//! Tests share ONE server and run in parallel: every resource gets a [`unique`] name, faults are
//! matched on a deployment id or function name, and nothing here ever resets the server.

pub mod iam;
pub mod watch;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};
use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, ComputePlatform, DeploymentOption, DeploymentStyle,
    DeploymentType, RevisionLocation, RevisionLocationType,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use iam::{GUARDED_STACK, Principal, RoleBinding, STACK_NAME_TAG};
use lifeguard_common::load_config;
use lifeguard_hooks::aws::{CloudWatchClient, CodeDeployClient, LambdaClient};
use lifeguard_hooks::checks::CheckFile;
use lifeguard_hooks::deadline::DEFAULT_REPORT_MARGIN;
use lifeguard_hooks::deployment::LifecycleEvent;
use lifeguard_hooks::post_traffic::PostTrafficHook;
use lifeguard_hooks::pre_traffic::PreTrafficHook;
use lifeguard_hooks::settings::HookSettings;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The pre-traffic hook wired to the real SDK adapters.
pub type Hook = PreTrafficHook<CodeDeployClient, LambdaClient>;

/// The post-traffic hook wired to the real SDK adapters.
pub type PostHook = PostTrafficHook<CodeDeployClient, LambdaClient, CloudWatchClient>;

/// The local AWS's account (moto's default).
pub const ACCOUNT: &str = "123456789012";

/// Tag CloudFormation puts on every resource it creates.
pub const LOGICAL_ID_TAG: &str = "aws:cloudformation:logical-id";

/// Target of the hook-report fault that tests inject.
pub const REPORT_TARGET: &str = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus";

/// Target of a GetMetricData fault: `Service.Operation`, as the rpcv2Cbor path names it (the
/// launcher matches the fault's text against the decoded CBOR body, which holds the dimensions).
pub const GET_METRIC_DATA_TARGET: &str = "GraniteServiceVersion20100801.GetMetricData";

const HOW_TO_START: &str = "start the local AWS with `./dev localaws start` and export the \
    environment of `local_env` in ./dev (AWS_ENDPOINT_URL=http://127.0.0.1:4599, AWS_REGION, dummy \
    credentials), or run everything with `./dev test`";

/// The repository root (the workspace this crate belongs to).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A name no other test (in this or an earlier run against the same server) uses:
/// `lg-<label>-<pid>-<n>`, at most 64 characters (Lambda's limit).
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let label: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(36).collect();
    format!("lg-{label}-{}-{n}", std::process::id())
}

// ------------------------------------------------------------------------ control API client

/// A minimal HTTP/1.1 client for the launcher's control API: one request per connection.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
    let socket = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(3))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
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
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ------------------------------------------------------------------------------ local AWS

/// The local AWS: SDK clients for seeding and the control API for scripting and read-back.
#[derive(Debug, Clone)]
pub struct LocalAws {
    /// `host:port` of the server.
    pub addr: String,
    /// The SDK configuration, loaded the way the functions load theirs.
    pub sdk: aws_config::SdkConfig,
    /// Raw Lambda client, for seeding.
    pub lambda: aws_sdk_lambda::Client,
    /// Raw CodeDeploy client, for seeding.
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// Raw CloudWatch client (rpcv2Cbor, translated by the launcher), for seeding.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Raw CloudFormation client, for seeding stacks.
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// Raw DynamoDB client, for creating tables.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Raw SNS client, for topics and subscriptions.
    pub sns: aws_sdk_sns::Client,
    /// The access key id requests are signed with: faults can match it, and
    /// [`LocalAws::request_counts`] counts only its requests.
    pub access_key: String,
}

/// Reads `AWS_ENDPOINT_URL`, refusing anything but this machine, and checks the launcher answers.
/// Panics (so the test fails) with instructions when the local AWS is not there.
fn local_endpoint() -> String {
    for var in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if std::env::var(var).map_or(true, |v| v.trim().is_empty()) {
            panic!("{var} is not set: these integration tests need the local AWS; {HOW_TO_START}");
        }
    }
    if std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).is_err() {
        panic!("AWS_REGION is not set; {HOW_TO_START}");
    }
    let url = std::env::var("AWS_ENDPOINT_URL").expect("checked above");
    let addr = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL={url} is not a plain http:// URL; {HOW_TO_START}"))
        .trim_end_matches('/')
        .to_owned();
    let host = addr.rsplit_once(':').map_or(addr.as_str(), |(host, _)| host);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        panic!("AWS_ENDPOINT_URL={url} is not on this machine: the tests only talk to the local AWS");
    }
    match http(&addr, "GET", "/_lifeguard/health", None) {
        Ok((200, _)) => addr,
        Ok((status, body)) => panic!(
            "{url} answered {status} {body} to /_lifeguard/health: not the lifeguard launcher; {HOW_TO_START}"
        ),
        Err(error) => panic!("the local AWS at {url} is not answering ({error}); {HOW_TO_START}"),
    }
}

impl LocalAws {
    /// Connects to the local AWS named by the environment; panics with instructions if absent.
    pub async fn connect() -> Self {
        let sdk = load_config().await;
        let access_key = std::env::var("AWS_ACCESS_KEY_ID").expect("checked by local_endpoint");
        Self::with(local_endpoint(), sdk, access_key)
    }

    /// Connects in `region`, with an access key id of its own, after forgetting every stack of
    /// that region: a test that owns a region sees only its own stacks, faults and counts.
    pub async fn connect_isolated(region: &str) -> Self {
        use aws_sdk_cloudformation::config::{Credentials, Region, SharedCredentialsProvider};
        let addr = local_endpoint();
        let access_key = unique("key").replace('-', "");
        let credentials = Credentials::new(&access_key, "testing", None, None, "lifeguard-tests");
        let sdk = load_config()
            .await
            .into_builder()
            .region(Region::new(region.to_owned()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        let aws = Self::with(addr, sdk, access_key);
        aws.control("POST", "/_lifeguard/cloudformation/clear-region", Some(&json!({"region": region})));
        aws
    }

    fn with(addr: String, sdk: aws_config::SdkConfig, access_key: String) -> Self {
        Self {
            addr,
            access_key,
            lambda: aws_sdk_lambda::Client::new(&sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(&sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            cloudformation: aws_sdk_cloudformation::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sdk,
        }
    }

    /// Calls the control API; panics on transport errors and on statuses other than 200.
    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        match http(&self.addr, method, path, body) {
            Ok((200, value)) => value,
            Ok((status, value)) => panic!("{method} {path} answered {status}: {value}"),
            Err(error) => panic!("{method} {path}: {error}"),
        }
    }

    /// An IAM role Lambda functions can be created with (created once per name, through IAM's
    /// query API: the tests need no IAM SDK for one call).
    pub fn role_arn(&self) -> String {
        let name = "lifeguard-tests-lambda-role";
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]});
        let form = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={}",
            encode(&policy.to_string())
        );
        let created = self.iam(&form);
        let answer = if created.contains("EntityAlreadyExists") {
            self.iam(&format!("Action=GetRole&Version=2010-05-08&RoleName={name}"))
        } else {
            created
        };
        let arn = answer
            .split("<Arn>")
            .nth(1)
            .and_then(|rest| rest.split("</Arn>").next())
            .unwrap_or_else(|| panic!("IAM gave no role ARN: {answer}"));
        arn.to_owned()
    }

    /// One IAM query-protocol call (moto routes it by the credential scope), as raw XML.
    fn iam(&self, form: &str) -> String {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{form}",
            self.addr,
            form.len()
        );
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the local AWS");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        stream.write_all(request.as_bytes()).expect("send IAM request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read IAM answer");
        answer
    }

    /// Creates a function with `versions` published versions ("1", "2", ...), alias `alias`
    /// on `alias_version`, tagged with `logical_id` as CloudFormation would.
    pub async fn seed_function(&self, spec: FunctionSpec<'_>) -> SeededFunction {
        let role = self.role_arn();
        let code = |version: u32| Blob::new(format!("{} code {version}", spec.name).into_bytes());
        let mut create = self
            .lambda
            .create_function()
            .function_name(spec.name)
            .runtime(Runtime::Providedal2023)
            .role(role)
            .handler("bootstrap")
            .code(FunctionCode::builder().zip_file(code(1)).build());
        if let Some(logical_id) = spec.logical_id {
            create = create.tags(LOGICAL_ID_TAG, logical_id);
        }
        if let Some(stack) = spec.stack {
            create = create.tags(STACK_NAME_TAG, stack);
        }
        let created = create.send().await.unwrap_or_else(|e| panic!("CreateFunction {}: {e:?}", spec.name));
        let mut versions = Vec::new();
        for n in 1..=spec.versions {
            if n > 1 {
                self.lambda
                    .update_function_code()
                    .function_name(spec.name)
                    .zip_file(code(n))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("UpdateFunctionCode {}: {e:?}", spec.name));
            }
            let published = self
                .lambda
                .publish_version()
                .function_name(spec.name)
                .send()
                .await
                .unwrap_or_else(|e| panic!("PublishVersion {}: {e:?}", spec.name));
            versions.push(published.version().expect("a published version").to_owned());
        }
        assert_eq!(versions, (1..=spec.versions).map(|n| n.to_string()).collect::<Vec<_>>());
        if spec.versions > 0 {
            self.lambda
                .create_alias()
                .function_name(spec.name)
                .name(spec.alias)
                .function_version(spec.alias_version.unwrap_or("1"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateAlias {}: {e:?}", spec.name));
        }
        SeededFunction {
            name: spec.name.to_owned(),
            arn: created.function_arn().unwrap_or_default().to_owned(),
            versions,
        }
    }

    /// Creates a CodeDeploy Lambda application, deployment group (with an enabled alarm
    /// configuration when `spec.group_alarms` names any) and deployment of `spec`'s AppSpec, and
    /// reads back the hook execution ids from the launcher and the creation time from CodeDeploy.
    pub async fn seed_deployment(&self, spec: &DeploymentSpec) -> SeededDeployment {
        let application = spec.application.clone();
        let group = "dg".to_owned();
        // A second deployment of the same application reuses its application and group.
        let created = self
            .codedeploy
            .create_application()
            .application_name(&application)
            .compute_platform(ComputePlatform::Lambda)
            .send()
            .await;
        let reused = match created {
            Ok(_) => false,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_application_already_exists_exception()) => {
                true
            }
            Err(e) => panic!("CreateApplication {application}: {e:?}"),
        };
        if !reused {
            self.create_deployment_group(&application, &group, spec).await;
        }
        let appspec = spec.appspec();
        let created = self
            .codedeploy
            .create_deployment()
            .application_name(&application)
            .deployment_group_name(&group)
            .revision(spec.revision.location(&appspec))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDeployment {application}: {e:?}"));
        let deployment_id = created.deployment_id().expect("a deployment id").to_owned();
        let events = self.lifecycle_events(&deployment_id);
        let executions: Vec<(LifecycleEvent, String)> = spec
            .hooks
            .iter()
            .map(|(event, _)| {
                let id = events
                    .iter()
                    .find(|e| e["lifecycleEvent"] == event.to_string())
                    .and_then(|e| e["lifecycleEventHookExecutionId"].as_str())
                    .unwrap_or_else(|| panic!("no {event} hook execution in {events:?}"));
                (*event, id.to_owned())
            })
            .collect();
        let execution_id = executions.first().map(|(_, id)| id.clone()).unwrap_or_default();
        let info = self
            .codedeploy
            .get_deployment()
            .deployment_id(&deployment_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetDeployment {deployment_id}: {e:?}"));
        let create_time = info
            .deployment_info()
            .and_then(|info| info.create_time())
            .unwrap_or_else(|| panic!("GetDeployment {deployment_id} gave no createTime"))
            .as_secs_f64();
        SeededDeployment { application, group, deployment_id, execution_id, executions, appspec, create_time }
    }

    /// Creates deployment group `group` of `application` with the alarms of `spec`.
    async fn create_deployment_group(&self, application: &str, group: &str, spec: &DeploymentSpec) {
        let alarms = (!spec.group_alarms.is_empty()).then(|| {
            let alarms = spec.group_alarms.iter().map(|name| Alarm::builder().name(name).build());
            AlarmConfiguration::builder().enabled(true).set_alarms(Some(alarms.collect())).build()
        });
        self.codedeploy
            .create_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .service_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/codedeploy"))
            .deployment_config_name("CodeDeployDefault.LambdaAllAtOnce")
            .deployment_style(
                DeploymentStyle::builder()
                    .deployment_type(DeploymentType::BlueGreen)
                    .deployment_option(DeploymentOption::WithTrafficControl)
                    .build(),
            )
            .set_alarm_configuration(alarms)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateDeploymentGroup {application}: {e:?}"));
    }

    /// The deployment group's alarm names as GetDeploymentGroup returns them (the hook reads
    /// them this way).
    pub async fn deployment_group_alarms(&self, deployment: &SeededDeployment) -> Vec<String> {
        let info = self
            .codedeploy
            .get_deployment_group()
            .application_name(&deployment.application)
            .deployment_group_name(&deployment.group)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetDeploymentGroup {}: {e:?}", deployment.application));
        let config = info.deployment_group_info().and_then(|i| i.alarm_configuration());
        config
            .map(|c| c.alarms().iter().filter_map(|a| a.name().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Moves `alias` of `function` to `version`, as CodeDeploy does when it shifts traffic.
    pub async fn point_alias(&self, function: &str, alias: &str, version: &str) {
        self.lambda
            .update_alias()
            .function_name(function)
            .name(alias)
            .function_version(version)
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateAlias {function}:{alias} -> {version}: {e:?}"));
    }

    /// The hook executions CodeDeploy created for a deployment, with their statuses.
    pub fn lifecycle_events(&self, deployment_id: &str) -> Vec<Value> {
        let path = format!("/_lifeguard/codedeploy/lifecycle-events?deploymentId={}", encode(deployment_id));
        as_list(self.control("GET", &path, None))
    }

    /// Every PutLifecycleEventHookExecutionStatus call made for a deployment, in order, accepted
    /// or not (`status`, `accepted`, `error`, `lifecycleEventHookExecutionId`).
    pub fn hook_reports(&self, deployment_id: &str) -> Vec<Value> {
        let path = format!("/_lifeguard/codedeploy/hook-reports?deploymentId={}", encode(deployment_id));
        as_list(self.control("GET", &path, None))
    }

    /// The statuses CodeDeploy accepted for a deployment, in order.
    pub fn accepted_statuses(&self, deployment_id: &str) -> Vec<String> {
        self.hook_reports(deployment_id)
            .iter()
            .filter(|r| r["accepted"] == true)
            .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Exactly one status was accepted for the deployment, and it is `expected`; a run that
    /// failed never even tried to report `Succeeded`.
    pub fn assert_reported_once(&self, deployment_id: &str, expected: &str) {
        let reports = self.hook_reports(deployment_id);
        assert_eq!(self.accepted_statuses(deployment_id), [expected], "reports: {reports:?}");
        if expected == "Failed" {
            assert!(reports.iter().all(|r| r["status"] != "Succeeded"), "{reports:?}");
        }
    }

    /// Every Invoke of a function, in order (`qualifier`, `executedVersion`, `payload`, `status`).
    pub fn invocations(&self, function: &str) -> Vec<Value> {
        let path = format!("/_lifeguard/lambda/invocations?function={}", encode(function));
        as_list(self.control("GET", &path, None))
    }

    /// Scripts the answers of `function` at `qualifier`: see [`behaviour`].
    pub fn script(&self, function: &str, qualifier: &str, behaviours: Vec<Value>) {
        let conditional = behaviours.iter().filter(|b| b.get("whenPayload").is_some()).count();
        let body = json!({"function": function, "qualifier": qualifier, "behaviours": behaviours});
        let stored = self.control("POST", "/_lifeguard/lambda/scripts", Some(&body));
        let kept = stored["behaviours"]
            .as_array()
            .map_or(0, |b| b.iter().filter(|b| b.get("whenPayload").is_some()).count());
        assert_eq!(
            kept, conditional,
            "the local AWS dropped `whenPayload`: it runs an older launcher; restart it \
             (./dev localaws stop && ./dev localaws start)"
        );
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

    /// The ARN of function `name` in this local AWS's account and region, e.g. a hook's own ARN
    /// as Lambda passes it in the invocation's context.
    pub fn function_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{ACCOUNT}:function:{name}", self.region())
    }

    /// The pre-traffic hook with real SDK clients signing as `principal` (see
    /// [`iam::RoleBinding::pre_traffic_hook`]) and the given settings.
    pub fn hook(&self, principal: &Principal, settings: HookSettings, hook_name: &str) -> Hook {
        PreTrafficHook {
            codedeploy: CodeDeployClient::new(&principal.sdk),
            functions: LambdaClient::new(&principal.sdk),
            settings,
            hook_name: hook_name.to_owned(),
        }
    }

    /// The pre-traffic hook deployed for CodeDeploy application `application`, under exactly its
    /// role's policies, with a check file given as YAML text.
    pub fn hook_with_checks(&self, checks_yaml: &str, hook_name: &str, application: &str) -> Hook {
        let principal = self.as_role(&RoleBinding::pre_traffic_hook(application, &self.region()));
        self.hook(&principal, settings_with_checks(checks_yaml), hook_name)
    }

    /// The post-traffic hook deployed for CodeDeploy application `application`, under exactly
    /// its role's policies (CodeDeploy, Lambda, CloudWatch), with a check file given as YAML text.
    pub fn post_traffic_hook(&self, checks_yaml: &str, hook_name: &str, application: &str) -> PostHook {
        let principal = self.as_role(&RoleBinding::post_traffic_hook(application, &self.region()));
        self.post_traffic_hook_as(&principal, checks_yaml, hook_name)
    }

    /// The post-traffic hook signing as `principal`, with a check file given as YAML text.
    pub fn post_traffic_hook_as(
        &self,
        principal: &Principal,
        checks_yaml: &str,
        hook_name: &str,
    ) -> PostHook {
        PostTrafficHook {
            codedeploy: CodeDeployClient::new(&principal.sdk),
            functions: LambdaClient::new(&principal.sdk),
            metrics: CloudWatchClient::new(&principal.sdk),
            settings: settings_with_checks(checks_yaml),
            hook_name: hook_name.to_owned(),
        }
    }

    /// Puts `minutes` of `version`'s Lambda metrics as Lambda publishes them for invocations
    /// through `alias` (namespace `AWS/Lambda`, [`lambda_dimensions`]): minute `i` at
    /// `start + 60 i` seconds since the epoch. Per minute: `Invocations`, `Errors` and `Throttles`
    /// as one value each (their `Sum` is the count), and, when there were invocations,
    /// `Duration` as two latency buckets (`Values` with `Counts`) whose weighted mean is the
    /// minute's `duration_ms`: CloudWatch's `Average` for the minute is that, its
    /// `SampleCount` the invocations.
    pub async fn put_lambda_metrics(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        start: f64,
        minutes: &[Minute],
    ) {
        let mut put = self.cloudwatch.put_metric_data().namespace("AWS/Lambda");
        for (i, minute) in minutes.iter().enumerate() {
            let at = DateTime::from_secs_f64(start + 60.0 * i as f64);
            let datum = |name: &str, unit: StandardUnit| {
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(lambda_dimensions(function, alias, version)))
                    .timestamp(at)
                    .unit(unit)
            };
            let count = |name: &str, n: u32| datum(name, StandardUnit::Count).value(f64::from(n)).build();
            put = put
                .metric_data(count("Invocations", minute.invocations))
                .metric_data(count("Errors", minute.errors))
                .metric_data(count("Throttles", minute.throttles));
            if minute.invocations > 0 {
                // A quarter of the invocations (whole counts: moto truncates fractional ones) at
                // 1.45x the mean, the rest just fast enough that the weighted mean is the mean.
                let (slow, fast) = (minute.invocations / 4, minute.invocations - minute.invocations / 4);
                let slow_ms = minute.duration_ms * 1.45;
                let total_ms = minute.duration_ms * f64::from(minute.invocations);
                let fast_ms = (total_ms - slow_ms * f64::from(slow)) / f64::from(fast);
                let duration = datum("Duration", StandardUnit::Milliseconds)
                    .values(fast_ms)
                    .values(slow_ms)
                    .counts(f64::from(fast))
                    .counts(f64::from(slow))
                    .build();
                put = put.metric_data(duration);
            }
        }
        put.send().await.unwrap_or_else(|e| panic!("PutMetricData {function} version {version}: {e:?}"));
    }

    /// Creates a metric alarm `name` on the `Errors` of `function`'s `version` through alias `live`
    /// and sets it to `state`.
    pub async fn put_alarm(&self, name: &str, function: &str, version: &str, state: StateValue) {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/Lambda")
            .metric_name("Errors")
            .set_dimensions(Some(lambda_dimensions(function, "live", version)))
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutMetricAlarm {name}: {e:?}"));
        self.set_alarm_state(name, state).await;
    }

    /// Drives alarm `name` to `state`, as CloudWatch would on its metric.
    pub async fn set_alarm_state(&self, name: &str, state: StateValue) {
        self.cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state.clone())
            .state_reason(format!("set to {} by the test", state.as_str()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetAlarmState {name}: {e:?}"));
    }
}

/// Hook settings with a check file given as YAML text and the default report margin.
pub fn settings_with_checks(checks_yaml: &str) -> HookSettings {
    let checks = CheckFile::parse(checks_yaml, "test checks").expect("the test's check file is valid");
    HookSettings { checks: Ok(checks), report_margin: DEFAULT_REPORT_MARGIN, function_arn: None }
}

/// The dimensions Lambda publishes for invocations of `version` through `alias` (weighted
/// routing): `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion`.
pub fn lambda_dimensions(function: &str, alias: &str, version: &str) -> Vec<Dimension> {
    [
        ("FunctionName", function.to_owned()),
        ("Resource", format!("{function}:{alias}")),
        ("ExecutedVersion", version.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
    .collect()
}

// ------------------------------------------------------------------ reaper: stacks, marks, notices

/// `events/reaper.json` (an EventBridge scheduled event) with its `time` set to `at`.
pub fn scheduled_event(at: lifeguard_reaper::Timestamp) -> Value {
    let path = repo_root().join("events/reaper.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    event["time"] = json!(at.to_string());
    event
}

/// A tiny template CloudFormation (and moto) can create: one `WaitConditionHandle`, plus an
/// output exporting each of `exports` and an output importing each of `imports`.
pub fn stack_template(exports: &[&str], imports: &[&str]) -> String {
    let mut outputs = serde_json::Map::new();
    for (i, name) in exports.iter().enumerate() {
        outputs.insert(
            format!("Exported{i}"),
            json!({"Value": format!("value of {name}"), "Export": {"Name": name}}),
        );
    }
    for (i, name) in imports.iter().enumerate() {
        outputs.insert(format!("Imported{i}"), json!({"Value": {"Fn::ImportValue": name}}));
    }
    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
    });
    if !outputs.is_empty() {
        template["Outputs"] = Value::Object(outputs);
    }
    template.to_string()
}

impl LocalAws {
    /// Creates a stack from `template` (see [`stack_template`]) and returns its id; panics
    /// unless it is `CREATE_COMPLETE` (moto creates stacks synchronously).
    pub async fn create_stack(
        &self,
        name: &str,
        template: &str,
        tags: &[(&str, &str)],
        protected: bool,
    ) -> String {
        let mut create = self
            .cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(template)
            .enable_termination_protection(protected);
        for (key, value) in tags {
            create =
                create.tags(aws_sdk_cloudformation::types::Tag::builder().key(*key).value(*value).build());
        }
        let created = create.send().await.unwrap_or_else(|e| panic!("CreateStack {name}: {e:?}"));
        let id = created.stack_id().expect("CreateStack gives the stack id").to_owned();
        let described = self
            .cloudformation
            .describe_stacks()
            .stack_name(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStacks {name}: {e:?}"));
        let status = described.stacks()[0].stack_status().map(|s| s.as_str().to_owned());
        assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"), "stack {name}");
        id
    }

    /// Makes the next DeleteStack of `stack` (name or id) leave it `DELETE_FAILED` with `reason`.
    pub fn script_delete_failure(&self, stack: &str, reason: &str) {
        self.control(
            "POST",
            "/_lifeguard/cloudformation/delete-failures",
            Some(&json!({"stackName": stack, "reason": reason})),
        );
    }

    /// Sets a live stack's (name or id) `StackStatus` and/or `ParentId` (a stack's name or id,
    /// stored as its id; `RootId` follows: the parent's root, else the parent), as DescribeStacks
    /// then shows them; `None` leaves that one unchanged. Panics if there is no such stack.
    pub fn set_stack_state(&self, stack: &str, status: Option<&str>, parent_id: Option<&str>) {
        let mut body = json!({"stackName": stack, "region": self.region()});
        if let Some(status) = status {
            body["status"] = json!(status);
        }
        if let Some(parent_id) = parent_id {
            body["parentId"] = json!(parent_id);
        }
        self.control("POST", "/_lifeguard/cloudformation/stack-state", Some(&body));
    }

    /// Requests signed with this connection's access key that the local AWS handled, by
    /// `"<service>.<Operation>"` (e.g. `"cloudformation.DescribeStacks"`, `"sns.Publish"`).
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.request_counts_for(&self.access_key)
    }

    fn request_counts_for(&self, access_key: &str) -> std::collections::BTreeMap<String, u64> {
        let answer = self.control("GET", &format!("/_lifeguard/requests?accessKey={access_key}"), None);
        serde_json::from_value(answer["counts"].clone())
            .unwrap_or_else(|e| panic!("request counts ({e}): {answer}"))
    }

    /// Names of the live stacks of this connection's region (every page).
    pub async fn stack_names(&self) -> std::collections::BTreeSet<String> {
        let mut pages = self.cloudformation.describe_stacks().into_paginator().send();
        let mut names = std::collections::BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.unwrap_or_else(|e| panic!("DescribeStacks: {e:?}"));
            names.extend(page.stacks().iter().filter_map(|s| s.stack_name().map(str::to_owned)));
        }
        names
    }

    async fn stack(&self, name: &str) -> Option<aws_sdk_cloudformation::types::Stack> {
        match self.cloudformation.describe_stacks().stack_name(name).send().await {
            Ok(output) => output.stacks().first().cloned(),
            Err(e) if format!("{e:?}").contains("does not exist") => None,
            Err(e) => panic!("DescribeStacks {name}: {e:?}"),
        }
    }

    /// A live stack's status, `None` when there is no such stack.
    pub async fn stack_status(&self, name: &str) -> Option<String> {
        self.stack(name).await.and_then(|s| s.stack_status().map(|s| s.as_str().to_owned()))
    }

    /// One tag of a live stack.
    pub async fn stack_tag(&self, name: &str, key: &str) -> Option<String> {
        let stack = self.stack(name).await.unwrap_or_else(|| panic!("no stack {name}"));
        stack.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value().map(str::to_owned))
    }

    /// Replaces a stack's tags, as an owner does with `sam deploy --tags` (an UpdateStack).
    pub async fn set_stack_tags(&self, name: &str, tags: &[(&str, &str)]) {
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_cloudformation::types::Tag::builder().key(*k).value(*v).build())
            .collect();
        self.cloudformation
            .update_stack()
            .stack_name(name)
            .use_previous_template(true)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateStack {name}: {e:?}"));
    }

    /// Creates a marks table (partition key `stackId`, on demand) under a unique name.
    pub async fn create_marks_table(&self, label: &str) -> String {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let name = unique(label);
        self.dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("stackId")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("stackId")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
        name
    }

    /// Deletes every mark in `table`.
    pub async fn clear_marks(&self, table: &str) {
        let scanned = self.dynamodb.scan().table_name(table).send().await;
        let scanned = scanned.unwrap_or_else(|e| panic!("Scan {table}: {e:?}"));
        for item in scanned.items() {
            let key = item.get("stackId").unwrap_or_else(|| panic!("a mark without stackId: {item:?}"));
            self.dynamodb
                .delete_item()
                .table_name(table)
                .key("stackId", key.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("DeleteItem {table}: {e:?}"));
        }
    }

    /// Creates a unique topic with an SQS queue subscribed to it (the SNS envelope, not raw
    /// delivery, so the message attributes travel in the body); returns (topic ARN, queue URL).
    pub async fn topic_with_queue(&self, label: &str) -> (String, String) {
        let name = unique(label);
        let topic =
            self.sns.create_topic().name(&name).send().await.unwrap_or_else(|e| panic!("CreateTopic: {e:?}"));
        let topic_arn = topic.topic_arn().expect("topic ARN").to_owned();
        let queue_url = self.sqs("CreateQueue", &json!({"QueueName": name}))["QueueUrl"]
            .as_str()
            .expect("CreateQueue gives the queue URL")
            .to_owned();
        let attributes =
            self.sqs("GetQueueAttributes", &json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}));
        let queue_arn = attributes["Attributes"]["QueueArn"].as_str().expect("queue ARN");
        self.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Subscribe: {e:?}"));
        (topic_arn, queue_url)
    }

    /// The SNS envelopes waiting in the queue (bodies parsed as JSON), read once.
    pub fn received(&self, queue_url: &str) -> Vec<Value> {
        let answer = self.sqs(
            "ReceiveMessage",
            &json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        );
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .map(|m| {
                let body = m["Body"].as_str().unwrap_or_else(|| panic!("message without a body: {m}"));
                serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"))
            })
            .collect()
    }

    /// One SQS call over its JSON protocol (the tests need no SQS SDK for three operations).
    fn sqs(&self, operation: &str, body: &Value) -> Value {
        let body = body.to_string();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: AmazonSQS.{operation}\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the local AWS");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        stream.write_all(request.as_bytes()).expect("send SQS request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read SQS answer");
        let (head, content) =
            answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("SQS {operation}: {answer}"));
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "SQS {operation}: {answer}"
        );
        serde_json::from_str(content)
            .unwrap_or_else(|e| panic!("SQS {operation} answer is not JSON ({e}): {answer}"))
    }
}

// ------------------------------------------------------------------------ metric series

/// One minute of one version's Lambda metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minute {
    /// `Invocations` (Sum).
    pub invocations: u32,
    /// `Errors` (Sum).
    pub errors: u32,
    /// Mean `Duration` in milliseconds (the minute's Average).
    pub duration_ms: f64,
    /// `Throttles` (Sum).
    pub throttles: u32,
}

/// How a version behaves under traffic: what its per-minute metrics are drawn around.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Mean invocations per minute.
    pub invocations: u32,
    /// Chance that one invocation fails.
    pub error_rate: f64,
    /// Mean latency in milliseconds.
    pub duration_ms: f64,
    /// Relative spread of each minute's invocations and mean latency (0.1: within ±10%).
    pub jitter: f64,
}

impl Traffic {
    /// `count` minutes drawn from `noise`: invocations and mean latency within ±jitter of
    /// their means, errors a binomial draw of the invocations, no throttles.
    pub fn minutes(&self, count: usize, noise: &mut Noise) -> Vec<Minute> {
        (0..count)
            .map(|_| {
                let invocations = noise.around(f64::from(self.invocations), self.jitter).round() as u32;
                let errors = noise.successes(invocations, self.error_rate);
                let duration_ms = (noise.around(self.duration_ms, self.jitter) * 1000.0).round() / 1000.0;
                Minute { invocations, errors, duration_ms, throttles: 0 }
            })
            .collect()
    }
}

/// Summary figures of generated minutes, as the analysis computes them from CloudWatch.
pub mod summary {
    use super::Minute;

    /// Errors over invocations, summed over the minutes.
    pub fn error_rate(minutes: &[Minute]) -> f64 {
        f64::from(errors(minutes)) / f64::from(invocations(minutes))
    }

    /// Invocations summed over the minutes.
    pub fn invocations(minutes: &[Minute]) -> u32 {
        minutes.iter().map(|m| m.invocations).sum()
    }

    /// Errors summed over the minutes.
    pub fn errors(minutes: &[Minute]) -> u32 {
        minutes.iter().map(|m| m.errors).sum()
    }

    /// Median of the minutes' mean latencies (minutes with invocations only).
    pub fn median_duration(minutes: &[Minute]) -> f64 {
        let mut values: Vec<f64> =
            minutes.iter().filter(|m| m.invocations > 0).map(|m| m.duration_ms).collect();
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 }
    }
}

/// A deterministic pseudo-random generator (SplitMix64) for realistic, repeatable noise.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform within ±`spread` (relative) of `center`.
    pub fn around(&mut self, center: f64, spread: f64) -> f64 {
        center * (1.0 + spread * (2.0 * self.unit() - 1.0))
    }

    /// How many of `trials` independent tries with chance `p` succeed.
    pub fn successes(&mut self, trials: u32, p: f64) -> u32 {
        (0..trials).map(|_| u32::from(self.unit() < p)).sum()
    }
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("expected a list from the control API, got {other}"),
    }
}

/// Scripted invoke answers for [`LocalAws::script`]. Behaviours without `whenPayload` are used
/// in order (the last repeats); one with `whenPayload` answers every request with that payload.
pub mod behaviour {
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

    /// Lambda refuses the invocation: 429 TooManyRequestsException.
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
}

/// A function to seed.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec<'a> {
    /// Function name.
    pub name: &'a str,
    /// How many versions to publish.
    pub versions: u32,
    /// CloudFormation logical id to tag it with.
    pub logical_id: Option<&'a str>,
    /// Alias to create.
    pub alias: &'a str,
    /// Version the alias points at (default "1").
    pub alias_version: Option<&'a str>,
    /// The stack CloudFormation created it in (its `aws:cloudformation:stack-name` tag).
    pub stack: Option<&'a str>,
}

impl<'a> FunctionSpec<'a> {
    /// `versions` versions, alias `live` on version 1, tagged with `logical_id`, in the stack the
    /// tests' hooks guard ([`GUARDED_STACK`]).
    pub fn new(name: &'a str, versions: u32, logical_id: &'a str) -> Self {
        Self {
            name,
            versions,
            logical_id: Some(logical_id),
            alias: "live",
            alias_version: None,
            stack: Some(GUARDED_STACK),
        }
    }
}

/// A seeded function.
#[derive(Debug, Clone)]
pub struct SeededFunction {
    /// Function name.
    pub name: String,
    /// Function ARN (unqualified).
    pub arn: String,
    /// Published versions, "1" first.
    pub versions: Vec<String>,
}

/// How the AppSpec is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSpecFormat {
    /// As SAM writes it.
    Json,
    /// As a person might.
    Yaml,
}

/// How the deployment carries its AppSpec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionForm {
    /// `AppSpecContent`: GetDeployment returns only its sha256 (what SAM deployments use).
    AppSpecContent,
    /// `String`: GetDeployment returns the text.
    String,
}

impl RevisionForm {
    fn location(self, appspec: &str) -> RevisionLocation {
        match self {
            Self::AppSpecContent => RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(appspec).build())
                .build(),
            // Deprecated by AWS but still accepted and returned whole: the hook must handle it.
            #[allow(deprecated)]
            Self::String => RevisionLocation::builder()
                .revision_type(RevisionLocationType::String)
                .string(aws_sdk_codedeploy::types::RawString::builder().content(appspec).build())
                .build(),
        }
    }
}

/// The deployment to seed: what its AppSpec says.
#[derive(Debug, Clone)]
pub struct DeploymentSpec {
    /// The CodeDeploy application to create the deployment in (unique per spec), known before
    /// seeding so that the hooks' roles can be bound to it.
    pub application: String,
    /// Resource key in the AppSpec (SAM uses the logical id).
    pub resource: String,
    /// `Properties.Name`.
    pub function: String,
    /// `Properties.Alias`.
    pub alias: String,
    /// `Properties.CurrentVersion`, when there is one.
    pub current_version: Option<String>,
    /// `Properties.TargetVersion`; `None` leaves it out (a broken AppSpec).
    pub target_version: Option<String>,
    /// The AppSpec's `Hooks`: lifecycle event and hook function, in order. The first one's
    /// execution id is [`SeededDeployment::execution_id`].
    pub hooks: Vec<(LifecycleEvent, String)>,
    /// Alarms of the deployment group's (enabled) alarm configuration.
    pub group_alarms: Vec<String>,
    /// JSON or YAML.
    pub format: AppSpecFormat,
    /// How the revision is carried.
    pub revision: RevisionForm,
}

impl DeploymentSpec {
    /// A SAM-like deployment of `function` from `current` to `target` with BeforeAllowTraffic
    /// hook `hook`: JSON AppSpec, `AppSpecContent` revision, alias `live`, no group alarms.
    pub fn new(function: &str, current: Option<&str>, target: &str, hook: &str) -> Self {
        Self {
            application: unique("app"),
            resource: "LoyaltyFunction".into(),
            function: function.into(),
            alias: "live".into(),
            current_version: current.map(str::to_owned),
            target_version: Some(target.into()),
            hooks: vec![(LifecycleEvent::BeforeAllowTraffic, hook.into())],
            group_alarms: Vec::new(),
            format: AppSpecFormat::Json,
            revision: RevisionForm::AppSpecContent,
        }
    }

    /// Like [`DeploymentSpec::new`], with `hook` as the AfterAllowTraffic hook only.
    pub fn post_traffic(function: &str, current: Option<&str>, target: &str, hook: &str) -> Self {
        Self {
            hooks: vec![(LifecycleEvent::AfterAllowTraffic, hook.into())],
            ..Self::new(function, current, target, hook)
        }
    }

    /// The AppSpec text.
    pub fn appspec(&self) -> String {
        match self.format {
            AppSpecFormat::Json => {
                let mut properties = json!({"Name": self.function, "Alias": self.alias, "CurrentVersion": self.current_version});
                if let Some(target) = &self.target_version {
                    properties["TargetVersion"] = json!(target);
                }
                if self.current_version.is_none() {
                    properties.as_object_mut().expect("an object").remove("CurrentVersion");
                }
                let hooks: Vec<Value> =
                    self.hooks.iter().map(|(event, hook)| json!({event.to_string(): hook})).collect();
                json!({
                    "version": 0.0,
                    "Resources": [{self.resource.as_str(): {"Type": "AWS::Lambda::Function", "Properties": properties}}],
                    "Hooks": hooks,
                })
                .to_string()
            }
            AppSpecFormat::Yaml => {
                let mut text = format!(
                    "version: 0.0\nResources:\n  - {}:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: {}\n        Alias: {}\n",
                    self.resource, self.function, self.alias
                );
                if let Some(current) = &self.current_version {
                    text.push_str(&format!("        CurrentVersion: \"{current}\"\n"));
                }
                if let Some(target) = &self.target_version {
                    text.push_str(&format!("        TargetVersion: \"{target}\"\n"));
                }
                text.push_str("Hooks:\n");
                for (event, hook) in &self.hooks {
                    text.push_str(&format!("  - {event}: {hook}\n"));
                }
                text
            }
        }
    }
}

/// A seeded deployment.
#[derive(Debug, Clone)]
pub struct SeededDeployment {
    /// CodeDeploy application.
    pub application: String,
    /// Deployment group.
    pub group: String,
    /// `DeploymentId`.
    pub deployment_id: String,
    /// The `LifecycleEventHookExecutionId` of the spec's first hook.
    pub execution_id: String,
    /// Every hook's execution id, by lifecycle event, in the spec's order.
    pub executions: Vec<(LifecycleEvent, String)>,
    /// The AppSpec text it was created with.
    pub appspec: String,
    /// `createTime` as GetDeployment returns it, in seconds since the epoch.
    pub create_time: f64,
}

impl SeededDeployment {
    /// The event CodeDeploy would send the spec's first hook.
    pub fn event(&self) -> Value {
        json!({"DeploymentId": self.deployment_id, "LifecycleEventHookExecutionId": self.execution_id})
    }

    /// The `LifecycleEventHookExecutionId` of the hook of `event`.
    pub fn execution_id_for(&self, event: LifecycleEvent) -> &str {
        self.executions
            .iter()
            .find(|(e, _)| *e == event)
            .map(|(_, id)| id.as_str())
            .unwrap_or_else(|| panic!("the deployment has no {event} hook"))
    }

    /// The event CodeDeploy would send the hook of `event`.
    pub fn event_for(&self, event: LifecycleEvent) -> Value {
        json!({"DeploymentId": self.deployment_id, "LifecycleEventHookExecutionId": self.execution_id_for(event)})
    }
}

/// A file in the temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `contents` to a new temporary file whose name ends in `suffix`.
    pub fn new(suffix: &str, contents: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}{suffix}", unique("tmp")));
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_fit_lambda() {
        let a = unique("a test name that is far too long for a lambda function, really");
        let b = unique("a test name that is far too long for a lambda function, really");
        assert_ne!(a, b);
        assert!(a.len() <= 64, "{a}");
    }

    #[test]
    fn appspecs_parse_as_the_hook_reads_them() {
        let mut spec = DeploymentSpec::new("fn", Some("1"), "2", "hook");
        for format in [AppSpecFormat::Json, AppSpecFormat::Yaml] {
            spec.format = format;
            let target = lifeguard_hooks::deployment::parse_appspec(&spec.appspec()).unwrap();
            assert_eq!(
                (
                    target.function_name.as_str(),
                    target.current_version.as_deref(),
                    target.target_version.as_str()
                ),
                ("fn", Some("1"), "2")
            );
            assert!(target.event_served_by("hook").is_some());
        }
    }

    #[test]
    fn post_traffic_appspecs_name_the_hook_for_after_allow_traffic() {
        let mut spec = DeploymentSpec::post_traffic("fn", Some("1"), "2", "post");
        spec.hooks.insert(0, (LifecycleEvent::BeforeAllowTraffic, "pre".into()));
        for format in [AppSpecFormat::Json, AppSpecFormat::Yaml] {
            spec.format = format;
            let target = lifeguard_hooks::deployment::parse_appspec(&spec.appspec()).unwrap();
            assert_eq!(target.event_served_by("post"), Some(LifecycleEvent::AfterAllowTraffic));
            assert_eq!(target.event_served_by("pre"), Some(LifecycleEvent::BeforeAllowTraffic));
        }
    }

    #[test]
    fn generated_traffic_is_repeatable_and_near_its_means() {
        let traffic = Traffic { invocations: 200, error_rate: 0.02, duration_ms: 120.0, jitter: 0.2 };
        let minutes = traffic.minutes(50, &mut Noise::new(7));
        assert_eq!(minutes, traffic.minutes(50, &mut Noise::new(7)));
        assert_ne!(minutes, traffic.minutes(50, &mut Noise::new(8)));
        for minute in &minutes {
            assert!((160..=240).contains(&minute.invocations), "{minute:?}");
            assert!((96.0..=144.0).contains(&minute.duration_ms), "{minute:?}");
        }
        let rate = summary::error_rate(&minutes);
        assert!((0.015..0.025).contains(&rate), "{rate}");
        let median = summary::median_duration(&minutes);
        assert!((110.0..130.0).contains(&median), "{median}");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("d-AB12 x/y=z"), "d-AB12%20x%2Fy%3Dz");
    }
}
