//! Thin adapters from the AWS SDK to the reaper's ports. Clients are built once, in `main`, from
//! one shared `SdkConfig` ([`lifeguard_common::load_config`]).

mod cloudformation;
mod dynamodb;
mod sns;

pub use cloudformation::CloudFormationClient;
pub use dynamodb::DynamoDbMarks;
pub use sns::{DIGEST_OWNER, OWNER_ATTRIBUTE, SnsNotifier};
