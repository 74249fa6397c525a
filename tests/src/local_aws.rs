//! Connecting to the local AWS: the endpoint the environment names (this machine only, and
//! answering as the stand-in) and SDK clients for it.

use crate::control::http;
use crate::names::unique;
use lifeguard_common::load_config;
use serde_json::json;

/// The local AWS's account (moto's default).
pub const ACCOUNT: &str = "123456789012";

const HOW_TO_START: &str = "start the local AWS with `./dev localaws start` and export the \
    environment of `local_env` in ./dev (AWS_ENDPOINT_URL=http://127.0.0.1:4599, AWS_REGION, dummy \
    credentials), or run everything with `./dev test`";

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
        assert!(
            !std::env::var(var).map_or(true, |v| v.trim().is_empty()),
            "{var} is not set: these integration tests need the local AWS; {HOW_TO_START}"
        );
    }
    assert!(
        std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).is_ok(),
        "AWS_REGION is not set; {HOW_TO_START}"
    );
    let url = std::env::var("AWS_ENDPOINT_URL").expect("checked above");
    let addr = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL={url} is not a plain http:// URL; {HOW_TO_START}"))
        .trim_end_matches('/')
        .to_owned();
    let host = addr.rsplit_once(':').map_or(addr.as_str(), |(host, _)| host);
    assert!(
        matches!(host, "127.0.0.1" | "localhost" | "[::1]"),
        "AWS_ENDPOINT_URL={url} is not on this machine: the tests only talk to the local AWS"
    );
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
}
