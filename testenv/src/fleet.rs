//! Thousands of SealedSecrets on a control plane, as benches and scale tests need them: sealed
//! in memory with ageseal-core (5 values, to this region's key and two others), created through
//! a kube client 32 at a time, and counted (Secrets made, objects Ready) by paged LISTs.

use std::path::Path;

use ageseal_core::Identity;
use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, PartialObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// The namespaces objects are spread over (`team-0` ... `team-19`).
pub const NAMESPACES: usize = 20;

/// The namespace of object `i`.
pub fn namespace(i: usize) -> String {
    format!("team-{}", i % NAMESPACES)
}

/// The name of object `i`.
pub fn name(i: usize) -> String {
    format!("app-{i}")
}

/// A kube client speaking as the kubeconfig's current user, on a runtime of its own.
pub struct Fleet {
    /// The client (admin).
    pub client: Client,
    /// The runtime its requests run on.
    pub runtime: tokio::runtime::Runtime,
    /// This region's key first, then another region's and a recovery key.
    pub recipients: Vec<NamedRecipient>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("recipients", &self.recipients.len())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A client for `kubeconfig`, sealing to `region_key` plus two keys of no one here.
    pub fn new(kubeconfig: &Path, region_key: NamedRecipient) -> Self {
        // Test builds enable both rustls providers (kube-fake-client brings aws-lc-rs).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let client = runtime.block_on(async {
            let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .expect("config");
            Client::try_from(config).expect("client")
        });
        let other = |name: &str| NamedRecipient::new(name, Identity::generate().recipient().clone());
        Fleet {
            client,
            runtime,
            recipients: vec![region_key, other("us-west-2"), other("recovery")],
        }
    }

    /// The sealed object `app-i`, with `password` set to `password`.
    pub fn sealed(&self, i: usize, password: &str) -> SealedSecret {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {}, namespace: {}}}\nstringData: {{username: app{i}, password: {password}, host: db-{i}.internal, port: '5432', token: tok-{i}-abcdefghijklmnop}}\n",
            name(i),
            namespace(i)
        );
        let secret = &parse_secrets(&text).expect("parses")[0];
        seal_secret(secret, &SealOptions::default(), &self.recipients).expect("seals")
    }

    /// Seals objects `0..n` on every core and creates them, 32 requests at a time.
    pub fn create(&self, n: usize) {
        let objects: Vec<SealedSecret> = crate::on_all_cores(0..n, |i| self.sealed(i, &format!("pw-{i}")));
        let client = self.client.clone();
        self.runtime.block_on(async move {
            futures::stream::iter(objects)
                .map(|object| {
                    let api: Api<SealedSecret> =
                        Api::namespaced(client.clone(), object.metadata.namespace.as_deref().expect("ns"));
                    async move { api.create(&PostParams::default(), &object).await.map(drop) }
                })
                .buffer_unordered(32)
                .try_collect::<Vec<()>>()
                .await
                .expect("objects created");
        });
    }

    /// Applies a new password to object `i` (server-side apply, as `kubectl apply --server-side`).
    pub fn change(&self, i: usize, password: &str) {
        let object = self.sealed(i, password);
        let api: Api<SealedSecret> = Api::namespaced(self.client.clone(), &namespace(i));
        let params = PatchParams::apply("ageseal-tests").force();
        self.runtime
            .block_on(api.patch(&name(i), &params, &Patch::Apply(&object)))
            .expect("applied");
    }

    /// Object `i`'s Secret's password, when the Secret exists.
    pub fn password(&self, i: usize) -> Option<Vec<u8>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &namespace(i));
        let secret = self.runtime.block_on(api.get(&name(i))).ok()?;
        Some(secret.data?.get("password")?.0.clone())
    }

    /// How many produced Secrets exist (metadata only).
    pub fn secrets_made(&self) -> usize {
        let api: Api<PartialObjectMeta<Secret>> = Api::all(self.client.clone());
        let mut params = ListParams::default()
            .labels("app.kubernetes.io/managed-by=ageseal-controller")
            .limit(1000);
        self.runtime.block_on(async {
            let mut count = 0;
            loop {
                let Ok(page) = api.list_metadata(&params).await else {
                    return count;
                };
                count += page.items.len();
                match page.metadata.continue_ {
                    Some(token) if !token.is_empty() => params = params.continue_token(&token),
                    _ => return count,
                }
            }
        })
    }

    /// How many SealedSecrets say Ready=True.
    pub fn ready(&self) -> usize {
        let api: Api<SealedSecret> = Api::all(self.client.clone());
        self.runtime.block_on(async {
            let mut params = ListParams::default().limit(1000);
            let mut ready = 0;
            loop {
                let Ok(page) = api.list(&params).await else {
                    return ready;
                };
                ready += page
                    .items
                    .iter()
                    .filter(|o| {
                        o.status
                            .as_ref()
                            .is_some_and(|s| s.conditions.iter().any(|c| c.status == "True"))
                    })
                    .count();
                match page.metadata.continue_ {
                    Some(token) if !token.is_empty() => params = params.continue_token(&token),
                    _ => return ready,
                }
            }
        })
    }
}
