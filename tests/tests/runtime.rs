//! The REAL `pre-traffic` binary behind the Lambda Runtime API (`cargo lambda watch`), with the
//! repository's `checks/checks.yaml`, probing a sample-app deployment on the local AWS. The
//! sample app's answers come from the real `loyalty` binary, served by the same watch.

use lifeguard_tests::watch::{
    PRE_TRAFFIC_HOOK, Watch, loyalty_behaviours, pre_traffic_event, repo_check_file, says_silver_for_alice,
};
use lifeguard_tests::{DeploymentSpec, FunctionSpec, LocalAws, SeededDeployment, repo_root, unique};
use serde_json::Value;

/// Seeds LoyaltyFunction versions 1 (answering like the sample app) and 2 (answering as
/// `target_behaviours` says, or like the sample app) and a deployment 1 → 2 whose hook is the
/// real binary.
async fn seed(
    aws: &LocalAws,
    watch: &Watch,
    label: &str,
    bad_target: Option<Vec<Value>>,
) -> SeededDeployment {
    let checks = repo_check_file();
    let function = unique(label);
    aws.seed_function(FunctionSpec::new(&function, 2, "LoyaltyFunction")).await;
    aws.script(&function, "1", loyalty_behaviours(watch, &checks, "1"));
    aws.script(&function, "2", bad_target.unwrap_or_else(|| loyalty_behaviours(watch, &checks, "2")));
    aws.seed_deployment(&DeploymentSpec::new(&function, Some("1"), "2", PRE_TRAFFIC_HOOK)).await
}

fn run_hook(watch: &Watch, deployment: &SeededDeployment) -> Value {
    let event = pre_traffic_event(&deployment.deployment_id, &deployment.execution_id);
    let invoked = watch.invoke_file(PRE_TRAFFIC_HOOK, event.path());
    assert!(
        invoked.success,
        "invoke failed: {}\n{}\nwatch log:\n{}",
        invoked.stdout,
        invoked.stderr,
        watch.log_tail()
    );
    invoked.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_passes_a_good_version() {
    let aws = LocalAws::connect().await;
    let watch = Watch::start_with_repo_checks();
    let deployment = seed(&aws, &watch, "rt-good", None).await;

    let report = run_hook(&watch, &deployment);
    assert_eq!(report["verdict"], "Succeeded", "{report:#}");
    assert_eq!(report["reported"], "accepted");
    assert_eq!(report["hook"], PRE_TRAFFIC_HOOK);
    assert_eq!(
        report["lifecycleEvent"], "BeforeAllowTraffic",
        "the AppSpec names the hook by its function name"
    );
    assert_eq!(report["checkKey"], "LoyaltyFunction");
    let checks = report["checks"].as_array().expect("checks");
    let names: Vec<_> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gold-member", "bronze-member", "unknown-customer", "missing-customer-id"]);
    assert!(checks.iter().all(|c| c["passed"] == true), "{report:#}");
    assert_eq!(checks[0]["invocations"], 3, "gold-member repeats 3 times");
    assert_eq!(aws.accepted_statuses(&deployment.deployment_id), ["Succeeded"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_fails_a_bad_version() {
    let aws = LocalAws::connect().await;
    let watch = Watch::start_with_repo_checks();
    // Version 2 says Silver for alice, and everything else like the sample app.
    let bad = says_silver_for_alice(loyalty_behaviours(&watch, &repo_check_file(), "2"));
    let deployment = seed(&aws, &watch, "rt-bad", Some(bad)).await;

    let report = run_hook(&watch, &deployment);
    assert_eq!(report["verdict"], "Failed", "{report:#}");
    assert_eq!(report["reported"], "accepted");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("gold-member") && reason.contains("Silver"), "{reason}");
    assert_eq!(aws.accepted_statuses(&deployment.deployment_id), ["Failed"]);
    let reports = aws.hook_reports(&deployment.deployment_id);
    assert!(reports.iter().all(|r| r["status"] == "Failed"), "{reports:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_binary_rejects_the_malformed_event() {
    let _aws = LocalAws::connect().await;
    let watch = Watch::start_with_repo_checks();
    let invoked = watch.invoke_file(PRE_TRAFFIC_HOOK, &repo_root().join("events/pre-traffic-malformed.json"));
    assert!(!invoked.success, "a malformed event must be an error: {}", invoked.stdout);
    let output = format!("{}{}", invoked.stdout, invoked.stderr);
    assert!(output.contains("LifecycleEventHookExecutionId"), "{output}");
    assert!(output.contains("MalformedEvent"), "{output}");
}
