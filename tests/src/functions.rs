//! Lambda functions: seeding them (with an IAM role to create them with), moving their aliases,
//! scripting their answers and reading back their invocations.

use crate::control::{as_list, encode};
use crate::iam::{GUARDED_STACK, STACK_NAME_TAG};
use crate::local_aws::{ACCOUNT, LocalAws};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Tag CloudFormation puts on every resource it creates.
pub const LOGICAL_ID_TAG: &str = "aws:cloudformation:logical-id";

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

impl LocalAws {
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

    /// Where `alias` of `function` points: its version, and the additional versions' weights
    /// while traffic shifts (`None` when all traffic goes to the version).
    pub async fn alias_routing(&self, function: &str, alias: &str) -> (String, Option<serde_json::Value>) {
        let alias = self
            .lambda
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetAlias {function}:{alias}: {e:?}"));
        let weights = alias.routing_config().and_then(|r| r.additional_version_weights()).map(|weights| {
            weights
                .iter()
                .map(|(version, weight)| (version.clone(), serde_json::Value::from(*weight)))
                .collect()
        });
        (alias.function_version().unwrap_or_default().to_owned(), weights.map(serde_json::Value::Object))
    }

    /// Every Invoke of a function, in order (`qualifier`, `executedVersion`, `payload`, `status`).
    pub fn invocations(&self, function: &str) -> Vec<Value> {
        let path = format!("/_lifeguard/lambda/invocations?function={}", encode(function));
        as_list(self.control("GET", &path, None))
    }

    /// Scripts the answers of `function` at `qualifier`: see [`behaviour`](crate::behaviour).
    #[expect(clippy::needless_pass_by_value, reason = "callers write the behaviours inline with vec!")]
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

    /// The ARN of function `name` in this local AWS's account and region, e.g. a hook's own ARN
    /// as Lambda passes it in the invocation's context.
    pub fn function_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{ACCOUNT}:function:{name}", self.region())
    }
}
