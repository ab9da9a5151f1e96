//! SealedSecrets as the controller reads them from the API server: without managed fields.
//!
//! Every object the API server sends carries `metadata.managedFields`, the server-side apply
//! bookkeeping of each field manager (for a SealedSecret: every key of `encryptedData`, the
//! recipients hint and the status, once per manager). The controller never reads it, but
//! k8s-openapi's `ObjectMeta` parses it into trees of `serde_json` values, one allocation per
//! field, which the cache then dropped: about 2 % of the controller's CPU in a cold sync
//! (controller/benches/README.md). [`LeanSealedSecret`] is
//! what the watch and reads parse instead: the same object, whose metadata skips
//! `managedFields` unparsed; it becomes a [`SealedSecret`] without copying.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ageseal_core::crd::{SealedSecret, SealedSecretSpec, SealedSecretStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::core::NamespaceResourceScope;
use kube::runtime::watcher;
use serde::Deserialize;

/// A SealedSecret read without its managed fields (see the module).
#[derive(Clone, Debug, Deserialize)]
pub struct LeanSealedSecret {
    #[serde(deserialize_with = "without_managed_fields")]
    metadata: ObjectMeta,
    spec: SealedSecretSpec,
    #[serde(default)]
    status: Option<SealedSecretStatus>,
}

impl From<LeanSealedSecret> for SealedSecret {
    fn from(lean: LeanSealedSecret) -> Self {
        SealedSecret {
            metadata: lean.metadata,
            spec: lean.spec,
            status: lean.status,
        }
    }
}

/// A watch event of [`LeanSealedSecret`]s as one of [`SealedSecret`]s.
pub fn event(event: watcher::Event<LeanSealedSecret>) -> watcher::Event<SealedSecret> {
    match event {
        watcher::Event::Apply(object) => watcher::Event::Apply(object.into()),
        watcher::Event::Delete(object) => watcher::Event::Delete(object.into()),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(object) => watcher::Event::InitApply(object.into()),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

impl kube::Resource for LeanSealedSecret {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        SealedSecret::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        SealedSecret::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        SealedSecret::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        SealedSecret::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `ObjectMeta`'s fields but `managedFields`, which serde skips unparsed as any unknown field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaWithoutManagedFields {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

fn without_managed_fields<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let meta = MetaWithoutManagedFields::deserialize(deserializer)?;
    Ok(ObjectMeta {
        annotations: meta.annotations,
        creation_timestamp: meta.creation_timestamp,
        deletion_grace_period_seconds: meta.deletion_grace_period_seconds,
        deletion_timestamp: meta.deletion_timestamp,
        finalizers: meta.finalizers,
        generate_name: meta.generate_name,
        generation: meta.generation,
        labels: meta.labels,
        managed_fields: None,
        name: meta.name,
        namespace: meta.namespace,
        owner_references: meta.owner_references,
        resource_version: meta.resource_version,
        self_link: meta.self_link,
        uid: meta.uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    /// Every field of `ObjectMeta` set (a struct literal without `..`: a field added to
    /// `ObjectMeta` fails to compile here until it is handled above).
    fn full_meta() -> ObjectMeta {
        let time = Time("2026-12-03T09:00:00Z".parse().expect("timestamp"));
        ObjectMeta {
            annotations: Some([("a".to_owned(), "1".to_owned())].into()),
            creation_timestamp: Some(time.clone()),
            deletion_grace_period_seconds: Some(30),
            deletion_timestamp: Some(time.clone()),
            finalizers: Some(vec!["f".to_owned()]),
            generate_name: Some("db-".to_owned()),
            generation: Some(7),
            labels: Some([("l".to_owned(), "2".to_owned())].into()),
            managed_fields: Some(vec![ManagedFieldsEntry {
                api_version: Some("ageseal.io/v1alpha1".to_owned()),
                fields_type: Some("FieldsV1".to_owned()),
                fields_v1: Some(FieldsV1(serde_json::json!({
                    "f:spec": {"f:encryptedData": {"f:password": {}}}
                }))),
                manager: Some("kubectl".to_owned()),
                operation: Some("Apply".to_owned()),
                subresource: None,
                time: Some(time),
            }]),
            name: Some("db".to_owned()),
            namespace: Some("payments".to_owned()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".to_owned(),
                kind: "ConfigMap".to_owned(),
                name: "owner".to_owned(),
                uid: "u0".to_owned(),
                block_owner_deletion: Some(true),
                controller: Some(false),
            }]),
            resource_version: Some("42".to_owned()),
            self_link: Some("/self".to_owned()),
            uid: Some("u1".to_owned()),
        }
    }

    #[test]
    fn reads_everything_but_the_managed_fields() {
        let mut object = SealedSecret::new(
            "db",
            SealedSecretSpec {
                encrypted_data: [("password".to_owned(), "YWdl".to_owned())].into(),
                ..SealedSecretSpec::default()
            },
        );
        object.metadata = full_meta();
        object.status = Some(SealedSecretStatus {
            observed_generation: Some(7),
            ..SealedSecretStatus::default()
        });
        let json = serde_json::to_vec(&object).expect("JSON");
        let lean: SealedSecret = serde_json::from_slice::<LeanSealedSecret>(&json)
            .expect("read")
            .into();
        let mut expected = object;
        expected.metadata.managed_fields = None;
        let as_json = |o: &SealedSecret| serde_json::to_value(o).expect("JSON");
        assert_eq!(as_json(&lean), as_json(&expected));
        assert!(lean.metadata.generation == Some(7) && lean.metadata.owner_references.is_some());
    }

    #[test]
    fn an_object_without_status_or_optional_metadata_reads() {
        let json = br#"{"apiVersion":"ageseal.io/v1alpha1","kind":"SealedSecret",
            "metadata":{"name":"db","managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}]},
            "spec":{"encryptedData":{}}}"#;
        let lean: SealedSecret = serde_json::from_slice::<LeanSealedSecret>(json)
            .expect("read")
            .into();
        assert_eq!(lean.metadata.name.as_deref(), Some("db"));
        assert!(lean.metadata.managed_fields.is_none() && lean.status.is_none());
    }
}
