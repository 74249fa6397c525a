//! Each AWS call of the hooks' adapters, through the real SDK, against the local AWS, signing as
//! the role of the hook that makes it (as the hooks application deploys it, see
//! `lifeguard_tests::iam`): the pre-traffic hook's for CodeDeploy and Lambda, the post-traffic
//! hook's for `GetDeploymentGroup`, which only it calls. Seeding keeps the unrestricted clients.

use lifeguard_hooks::aws::{CodeDeployClient, LambdaClient};
use lifeguard_hooks::deployment::Revision;
use lifeguard_hooks::hook::{CodeDeploy, DeploymentAlarms, Reported, Verdict};
use lifeguard_hooks::probe::{Functions, InvokeError};
use lifeguard_tests::behaviour::{answer, function_error, throttle};
use lifeguard_tests::iam::{Principal, RoleBinding, principal_denied};
use lifeguard_tests::{
    ACCOUNT, DeploymentSpec, FunctionSpec, LocalAws, RevisionForm, SeededDeployment, unique,
};
use serde_json::{Value, json};

async fn deployment(aws: &LocalAws, label: &str, revision: RevisionForm) -> SeededDeployment {
    let mut spec = DeploymentSpec::new(&unique(label), Some("1"), "2", "CodeDeployHook_pre");
    spec.revision = revision;
    aws.seed_deployment(&spec).await
}

/// The pre-traffic hook's role, as deployed for CodeDeploy application `application`.
fn pre_traffic_role(aws: &LocalAws, application: &str) -> Principal {
    aws.as_role(&RoleBinding::pre_traffic_hook(application, &aws.region()))
}

/// The pre-traffic hook's role for the Lambda calls: its Lambda statements depend only on the
/// guarded stack, so it is deployed for an application of its own.
fn lambda_role(aws: &LocalAws) -> Principal {
    pre_traffic_role(aws, &unique("app"))
}

/// The ARN of a CodeDeploy resource (`application:...`, `deploymentgroup:...`).
fn codedeploy_arn(aws: &LocalAws, resource: &str) -> String {
    format!("arn:aws:codedeploy:{}:{ACCOUNT}:{resource}", aws.region())
}

#[tokio::test]
async fn appspec_content_revision_gives_the_sha256_then_the_text() {
    let aws = LocalAws::connect().await;
    let seeded = deployment(&aws, "cd-content", RevisionForm::AppSpecContent).await;
    let codedeploy = CodeDeployClient::new(&pre_traffic_role(&aws, &seeded.application).sdk);

    let found = codedeploy.deployment(&seeded.deployment_id).await.unwrap();
    assert_eq!(found.application_name, seeded.application);
    let Revision::Sha256(sha256) = &found.revision else {
        panic!("GetDeployment of an AppSpecContent revision must carry only the sha256: {found:?}")
    };
    assert_eq!(sha256.len(), 64, "{sha256}");
    assert!(found.create_time.is_some());

    let text = codedeploy.appspec(&seeded.application, sha256).await.unwrap();
    assert_eq!(text, seeded.appspec);
}

#[tokio::test]
async fn string_revision_carries_the_text() {
    let aws = LocalAws::connect().await;
    let seeded = deployment(&aws, "cd-string", RevisionForm::String).await;
    let codedeploy = CodeDeployClient::new(&pre_traffic_role(&aws, &seeded.application).sdk);
    let found = codedeploy.deployment(&seeded.deployment_id).await.unwrap();
    assert_eq!(found.revision, Revision::Content(seeded.appspec.clone()));
}

#[tokio::test]
async fn unknown_deployment_and_revision_are_named_errors() {
    let aws = LocalAws::connect().await;
    let seeded = deployment(&aws, "cd-norev", RevisionForm::AppSpecContent).await;
    let role = pre_traffic_role(&aws, &seeded.application);
    let codedeploy = CodeDeployClient::new(&role.sdk);

    let error = codedeploy.deployment("d-NOSUCH000").await.unwrap_err();
    // The role reads deployments of its own application's groups only: of one that does not
    // exist, CodeDeploy tells only a caller allowed on every group (deploymentgroup:*).
    assert_eq!((error.operation, error.code.as_str()), ("GetDeployment", "AccessDeniedException"));
    let every_group = codedeploy_arn(&aws, "deploymentgroup:*");
    assert_eq!(error.message, principal_denied(&role, "codedeploy:GetDeployment", &every_group));

    let error = codedeploy.appspec(&seeded.application, &"0".repeat(64)).await.unwrap_err();
    assert_eq!(
        (error.operation, error.code.as_str()),
        ("GetApplicationRevision", "RevisionDoesNotExistException")
    );
}

#[tokio::test]
async fn report_is_accepted_once_then_already_completed() {
    let aws = LocalAws::connect().await;
    let seeded = deployment(&aws, "cd-report", RevisionForm::AppSpecContent).await;
    let codedeploy = CodeDeployClient::new(&pre_traffic_role(&aws, &seeded.application).sdk);

    let first = codedeploy.report(&seeded.deployment_id, &seeded.execution_id, Verdict::Succeeded).await;
    assert_eq!(first, Ok(Reported::Accepted));
    let second = codedeploy.report(&seeded.deployment_id, &seeded.execution_id, Verdict::Failed).await;
    assert_eq!(second, Ok(Reported::AlreadyCompleted));

    assert_eq!(aws.accepted_statuses(&seeded.deployment_id), ["Succeeded"]);
    let reports = aws.hook_reports(&seeded.deployment_id);
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(reports[1]["error"], "LifecycleEventAlreadyCompletedException");
    let events = aws.lifecycle_events(&seeded.deployment_id);
    assert_eq!(events[0]["status"], "Succeeded", "{events:?}");
}

#[tokio::test]
async fn report_for_an_unknown_deployment_is_an_error() {
    let aws = LocalAws::connect().await;
    let role = pre_traffic_role(&aws, &unique("app"));
    let unknown = format!("d-{:09}", std::process::id());
    let error =
        CodeDeployClient::new(&role.sdk).report(&unknown, "eyJub3RoaW5nIjoxfQ==", Verdict::Failed).await;
    let error = error.unwrap_err();
    // As for GetDeployment: an unknown deployment's group is deploymentgroup:*, beyond the role's
    // own application, so IAM refuses the report before CodeDeploy can say it does not exist.
    assert_eq!(
        (error.operation, error.code.as_str()),
        ("PutLifecycleEventHookExecutionStatus", "AccessDeniedException")
    );
    let every_group = codedeploy_arn(&aws, "deploymentgroup:*");
    assert_eq!(
        error.message,
        principal_denied(&role, "codedeploy:PutLifecycleEventHookExecutionStatus", &every_group)
    );
}

#[tokio::test]
async fn group_alarms_are_read_as_the_post_traffic_hook() {
    let aws = LocalAws::connect().await;
    let mut spec = DeploymentSpec::post_traffic(&unique("cd-alarms"), Some("1"), "2", "CodeDeployHook_post");
    spec.group_alarms = vec![unique("alarm-errors"), unique("alarm-latency")];
    let seeded = aws.seed_deployment(&spec).await;
    let role = aws.as_role(&RoleBinding::post_traffic_hook(&seeded.application, &aws.region()));

    let alarms =
        CodeDeployClient::new(&role.sdk).deployment_group_alarms(&seeded.application, &seeded.group).await;
    assert_eq!(alarms.unwrap(), spec.group_alarms);

    // The pre-traffic hook reads no alarms: its role has no codedeploy:GetDeploymentGroup.
    let pre = pre_traffic_role(&aws, &seeded.application);
    let error = CodeDeployClient::new(&pre.sdk)
        .deployment_group_alarms(&seeded.application, &seeded.group)
        .await
        .unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("GetDeploymentGroup", "AccessDeniedException"));
    let group = codedeploy_arn(&aws, &format!("deploymentgroup:{}/{}", seeded.application, seeded.group));
    assert_eq!(error.message, principal_denied(&pre, "codedeploy:GetDeploymentGroup", &group));
}

async fn function(aws: &LocalAws, label: &str) -> String {
    let name = unique(label);
    aws.seed_function(FunctionSpec::new(&name, 2, "LoyaltyFunction")).await;
    name
}

#[tokio::test]
async fn invoke_returns_the_answer_of_the_exact_version() {
    let aws = LocalAws::connect().await;
    let name = function(&aws, "fn-answer").await;
    aws.script(&name, "1", vec![answer(json!({"from": 1}))]);
    aws.script(&name, "2", vec![answer(json!({"from": 2}))]);
    let lambda = LambdaClient::new(&lambda_role(&aws).sdk);

    let answered = lambda.invoke(&name, "2", br#"{"probe":true}"#).await.unwrap();
    assert_eq!(answered.function_error, None);
    assert_eq!(answered.executed_version.as_deref(), Some("2"));
    assert_eq!(serde_json::from_slice::<Value>(&answered.payload).unwrap(), json!({"from": 2}));

    let calls = aws.invocations(&name);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0]["qualifier"].as_str(), calls[0]["payload"].clone()),
        (Some("2"), json!({"probe": true}))
    );
}

#[tokio::test]
async fn invoke_reports_a_function_error() {
    let aws = LocalAws::connect().await;
    let name = function(&aws, "fn-error").await;
    aws.script(&name, "2", vec![function_error("boom")]);
    let answered = LambdaClient::new(&lambda_role(&aws).sdk).invoke(&name, "2", b"{}").await.unwrap();
    assert_eq!(answered.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(answered.executed_version.as_deref(), Some("2"));
    assert_eq!(serde_json::from_slice::<Value>(&answered.payload).unwrap()["errorMessage"], "boom");
}

#[tokio::test]
async fn throttled_invoke_is_transient_and_not_retried_by_the_sdk() {
    let aws = LocalAws::connect().await;
    let name = function(&aws, "fn-throttle").await;
    aws.script(&name, "2", vec![throttle(), answer(json!("after"))]);
    let lambda = LambdaClient::new(&lambda_role(&aws).sdk);
    match lambda.invoke(&name, "2", b"{}").await {
        Err(InvokeError::Transient(message)) => {
            assert!(message.contains("TooManyRequestsException"), "{message}");
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert_eq!(aws.invocations(&name).len(), 1, "the probe retries, not the SDK");
    let answered = lambda.invoke(&name, "2", b"{}").await.unwrap();
    assert_eq!(answered.payload, br#""after""#);
}

#[tokio::test]
async fn invoking_an_unknown_version_is_fatal() {
    let aws = LocalAws::connect().await;
    let name = function(&aws, "fn-unknown").await;
    match LambdaClient::new(&lambda_role(&aws).sdk).invoke(&name, "9", b"{}").await {
        Err(InvokeError::Fatal(message)) => {
            assert!(message.contains("ResourceNotFoundException"), "{message}");
        }
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

#[tokio::test]
async fn logical_id_comes_from_the_cloudformation_tag() {
    let aws = LocalAws::connect().await;
    let role = lambda_role(&aws);
    let lambda = LambdaClient::new(&role.sdk);
    let tagged = function(&aws, "fn-tagged").await;
    assert_eq!(
        lambda.logical_id(&aws.function_arn(&tagged)).await.unwrap().as_deref(),
        Some("LoyaltyFunction")
    );

    let untagged = unique("fn-untagged");
    aws.seed_function(FunctionSpec { logical_id: None, ..FunctionSpec::new(&untagged, 1, "") }).await;
    assert_eq!(lambda.logical_id(&aws.function_arn(&untagged)).await.unwrap(), None);

    let missing = aws.function_arn(&unique("fn-missing"));
    let error = lambda.logical_id(&missing).await.unwrap_err();
    // The role reads the tags of the guarded stack's functions only, and a function that does
    // not exist has no stack tag: refused, as on AWS, rather than ResourceNotFoundException.
    assert_eq!((error.operation, error.code.as_str()), ("ListTags", "AccessDeniedException"));
    assert_eq!(error.message, principal_denied(&role, "lambda:ListTags", &missing));
}

#[tokio::test]
async fn the_role_reaches_only_the_guarded_stack_and_its_own_application() {
    let aws = LocalAws::connect().await;
    let seeded = deployment(&aws, "cd-foreign", RevisionForm::AppSpecContent).await;
    let foreign = unique("fn-foreign");
    // CloudFormation created it in another stack than the one the hooks guard.
    let spec = FunctionSpec {
        stack: Some("someone-elses-app"),
        ..FunctionSpec::new(&foreign, 2, "LoyaltyFunction")
    };
    aws.seed_function(spec).await;
    aws.script(&foreign, "2", vec![answer(json!("must not run"))]);
    // The pre-traffic hook of another CodeDeploy application.
    let role = pre_traffic_role(&aws, &unique("app"));
    let lambda = LambdaClient::new(&role.sdk);
    let codedeploy = CodeDeployClient::new(&role.sdk);

    let arn = aws.function_arn(&foreign);
    match lambda.invoke(&foreign, "2", b"{}").await {
        Err(InvokeError::Fatal(message)) => assert_eq!(
            message,
            format!(
                "Invoke failed: AccessDeniedException: {}",
                principal_denied(&role, "lambda:InvokeFunction", &format!("{arn}:2"))
            )
        ),
        other => panic!("expected a fatal AccessDeniedException, got {other:?}"),
    }
    let error = lambda.logical_id(&arn).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("ListTags", "AccessDeniedException"));
    assert_eq!(error.message, principal_denied(&role, "lambda:ListTags", &arn));
    assert_eq!(aws.invocations(&foreign), Vec::<Value>::new(), "refused before Lambda ran it");

    let group = codedeploy_arn(&aws, &format!("deploymentgroup:{}/{}", seeded.application, seeded.group));
    let error = codedeploy.deployment(&seeded.deployment_id).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("GetDeployment", "AccessDeniedException"));
    assert_eq!(error.message, principal_denied(&role, "codedeploy:GetDeployment", &group));
    let error =
        codedeploy.report(&seeded.deployment_id, &seeded.execution_id, Verdict::Succeeded).await.unwrap_err();
    assert_eq!(
        (error.operation, error.code.as_str()),
        ("PutLifecycleEventHookExecutionStatus", "AccessDeniedException")
    );
    assert_eq!(aws.accepted_statuses(&seeded.deployment_id), Vec::<String>::new());

    let refused: Vec<(String, String)> = aws
        .denials(&role)
        .iter()
        .map(|d| {
            (
                d["action"].as_str().unwrap_or_default().to_owned(),
                d["resource"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("lambda:InvokeFunction", format!("{arn}:2")),
        ("lambda:ListTags", arn.clone()),
        ("codedeploy:GetDeployment", group.clone()),
        ("codedeploy:PutLifecycleEventHookExecutionStatus", group.clone()),
    ];
    assert_eq!(refused, expected.map(|(action, resource)| (action.to_owned(), resource)));
}
