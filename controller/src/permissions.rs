//! The controller's check of its own permissions: every permission deploy/base/rbac.yaml grants
//! it is asked of the API server (SelfSubjectAccessReview, which any identity may create) at
//! start-up and then every few minutes. A missing one is named in an error line and on `/readyz`
//! until it is granted. Without this some failures stay silent: kube-client 4.2 reads a forbidden
//! watch's (multi-line) error as an empty stream.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::http::Health;
use crate::run::RunOptions;

const SOURCE: &str = "RBAC";
/// How often the check runs again (sooner while something is missing).
const EVERY: Duration = Duration::from_secs(300);
const WHILE_MISSING: Duration = Duration::from_secs(15);

/// One permission: a verb on a resource, in a namespace (`None`: cluster-wide), maybe one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// e.g. `watch`.
    pub verb: &'static str,
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// e.g. `secrets` or `sealedsecrets/status`.
    pub resource: &'static str,
    /// Where; `None` for every namespace.
    pub namespace: Option<String>,
    /// One object only, e.g. the Lease `ageseal-controller`.
    pub name: Option<&'static str>,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        write!(f, "{} {}{group}", self.verb, self.resource)?;
        if let Some(name) = self.name {
            write!(f, " {name}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None => write!(f, " in all namespaces"),
        }
    }
}

fn permission(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespace: Option<&str>,
    name: Option<&'static str>,
) -> Permission {
    Permission {
        verb,
        group,
        resource,
        namespace: namespace.map(str::to_owned),
        name,
    }
}

/// What a controller started with `options` needs: deploy/base/rbac.yaml, rule by rule.
pub fn needed(options: &RunOptions) -> Vec<Permission> {
    let scopes: Vec<Option<&str>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().map(|ns| Some(ns.as_str())).collect()
    };
    let mut needed = Vec::new();
    for scope in scopes {
        for verb in ["get", "list", "watch"] {
            needed.push(permission(verb, "ageseal.io", "sealedsecrets", scope, None));
        }
        needed.push(permission(
            "patch",
            "ageseal.io",
            "sealedsecrets/status",
            scope,
            None,
        ));
        for verb in ["get", "list", "watch", "create", "patch"] {
            needed.push(permission(verb, "", "secrets", scope, None));
        }
        needed.push(permission("create", "events.k8s.io", "events", scope, None));
    }
    let own = Some(options.own_namespace.as_str());
    for verb in ["get", "list", "watch", "create", "patch"] {
        needed.push(permission(verb, "", "secrets", own, None));
    }
    needed.push(permission("create", "", "configmaps", own, None));
    for verb in ["get", "patch"] {
        needed.push(permission(
            verb,
            "",
            "configmaps",
            own,
            Some("ageseal-recipients"),
        ));
    }
    if options.leader_election {
        needed.push(permission("create", "coordination.k8s.io", "leases", own, None));
        for verb in ["get", "update"] {
            needed.push(permission(
                verb,
                "coordination.k8s.io",
                "leases",
                own,
                Some("ageseal-controller"),
            ));
        }
    }
    needed
}

/// The permissions of `needed` the API server says this identity lacks.
pub async fn missing(client: &Client, needed: &[Permission]) -> Result<Vec<Permission>, kube::Error> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut missing = Vec::new();
    for want in needed {
        let (resource, subresource) = match want.resource.split_once('/') {
            Some((resource, sub)) => (resource, Some(sub.to_owned())),
            None => (want.resource, None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(want.verb.to_owned()),
                    group: Some(want.group.to_owned()),
                    resource: Some(resource.to_owned()),
                    subresource,
                    namespace: want.namespace.clone(),
                    name: want.name.map(str::to_owned),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = api.create(&PostParams::default(), &review).await?;
        if !answer.status.is_some_and(|s| s.allowed) {
            missing.push(want.clone());
        }
    }
    Ok(missing)
}

/// Checks now and then every few minutes, forever; reports to the log and to `/readyz`.
pub async fn keep_checking(client: Client, options: RunOptions, health: Arc<Health>) {
    let needed = needed(&options);
    loop {
        let pause = match missing(&client, &needed).await {
            Ok(missing) if missing.is_empty() => {
                health.set_problem(SOURCE, None);
                EVERY
            }
            Ok(missing) => {
                let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
                let problem = format!(
                    "the controller may not {}: grant it as deploy/base/rbac.yaml does",
                    list.join(", ")
                );
                tracing::error!("{SOURCE}: {problem}");
                health.set_problem(SOURCE, Some(problem));
                WHILE_MISSING
            }
            // The API server is unreachable: the watches report that; try again soon.
            Err(e) => {
                tracing::debug!("checking permissions: {e}");
                WHILE_MISSING
            }
        };
        tokio::time::sleep(pause).await;
    }
}
