//! Each AWS call of the shared adapters, through the real SDK, against the local AWS.

use lifeguard_shared::aws::{CodeDeployClient, LambdaClient};
use lifeguard_shared::deployment::Revision;
use lifeguard_shared::hook::{CodeDeploy, Reported, Verdict};
use lifeguard_shared::probe::{Functions, InvokeError};
use lifeguard_tests::behaviour::{answer, function_error, throttle};
use lifeguard_tests::{DeploymentSpec, FunctionSpec, LocalAws, RevisionForm, SeededDeployment, unique};
use serde_json::{Value, json};

async fn deployment(aws: &LocalAws, label: &str, revision: RevisionForm) -> SeededDeployment {
    let mut spec = DeploymentSpec::new(&unique(label), Some("1"), "2", "CodeDeployHook_pre");
    spec.revision = revision;
    aws.seed_deployment(&spec).await
}

#[tokio::test]
async fn appspec_content_revision_gives_the_sha256_then_the_text() {
    let aws = LocalAws::connect().await;
    let seeded = deployment(&aws, "cd-content", RevisionForm::AppSpecContent).await;
    let codedeploy = CodeDeployClient::new(&aws.sdk);

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
    let found = CodeDeployClient::new(&aws.sdk).deployment(&seeded.deployment_id).await.unwrap();
    assert_eq!(found.revision, Revision::Content(seeded.appspec.clone()));
}

#[tokio::test]
async fn unknown_deployment_and_revision_are_named_errors() {
    let aws = LocalAws::connect().await;
    let codedeploy = CodeDeployClient::new(&aws.sdk);
    let error = codedeploy.deployment("d-NOSUCH000").await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("GetDeployment", "DeploymentDoesNotExistException"));

    let seeded = deployment(&aws, "cd-norev", RevisionForm::AppSpecContent).await;
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
    let codedeploy = CodeDeployClient::new(&aws.sdk);

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
    let unknown = format!("d-{:09}", std::process::id());
    let error =
        CodeDeployClient::new(&aws.sdk).report(&unknown, "eyJub3RoaW5nIjoxfQ==", Verdict::Failed).await;
    let error = error.unwrap_err();
    assert_eq!(error.operation, "PutLifecycleEventHookExecutionStatus");
    assert!(error.to_string().contains("DeploymentDoesNotExistException"), "{error}");
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
    let lambda = LambdaClient::new(&aws.sdk);

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
    let answered = LambdaClient::new(&aws.sdk).invoke(&name, "2", b"{}").await.unwrap();
    assert_eq!(answered.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(answered.executed_version.as_deref(), Some("2"));
    assert_eq!(serde_json::from_slice::<Value>(&answered.payload).unwrap()["errorMessage"], "boom");
}

#[tokio::test]
async fn throttled_invoke_is_transient_and_not_retried_by_the_sdk() {
    let aws = LocalAws::connect().await;
    let name = function(&aws, "fn-throttle").await;
    aws.script(&name, "2", vec![throttle(), answer(json!("after"))]);
    let lambda = LambdaClient::new(&aws.sdk);
    match lambda.invoke(&name, "2", b"{}").await {
        Err(InvokeError::Transient(message)) => {
            assert!(message.contains("TooManyRequestsException"), "{message}")
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
    match LambdaClient::new(&aws.sdk).invoke(&name, "9", b"{}").await {
        Err(InvokeError::Fatal(message)) => {
            assert!(message.contains("ResourceNotFoundException"), "{message}")
        }
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

#[tokio::test]
async fn logical_id_comes_from_the_cloudformation_tag() {
    let aws = LocalAws::connect().await;
    let lambda = LambdaClient::new(&aws.sdk);
    let tagged = function(&aws, "fn-tagged").await;
    assert_eq!(lambda.logical_id(&tagged).await.unwrap().as_deref(), Some("LoyaltyFunction"));

    let untagged = unique("fn-untagged");
    aws.seed_function(FunctionSpec { logical_id: None, ..FunctionSpec::new(&untagged, 1, "") }).await;
    assert_eq!(lambda.logical_id(&untagged).await.unwrap(), None);

    let error = lambda.logical_id(&unique("fn-missing")).await.unwrap_err();
    assert_eq!((error.operation, error.code.as_str()), ("GetFunction", "ResourceNotFoundException"));
}
