//! Thin adapters from the AWS SDK to the traits the hooks use. Clients are built once, in
//! `main`, from one shared `SdkConfig` ([`lifeguard_common::load_config`]).

mod cloudwatch;
mod codedeploy;
mod lambda;
mod sns;

pub use cloudwatch::CloudWatchClient;
pub use codedeploy::CodeDeployClient;
pub use lambda::LambdaClient;
pub use sns::SnsVerdictTopic;
