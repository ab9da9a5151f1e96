//! Events on SealedSecrets, one per Ready transition (reconcile decides when).
//!
//! kube's `Recorder` keeps every Event it sent for six minutes, to count repeats as a series, and
//! scans that whole cache on every publish: on a cold start of 10,000 objects that is 10,000
//! cached Events and a quadratic scan. The controller never repeats an Event (it announces
//! transitions only), so it creates each one directly and keeps nothing.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::runtime::events::{Event, EventType};
use kube::{Client, Resource};

/// Creates `events.k8s.io/v1` Events as this controller replica.
#[derive(Clone)]
pub struct Announcer {
    client: Client,
    controller: String,
    instance: String,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("controller", &self.controller)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Announcer {
    /// Events reported by `controller` (e.g. `ageseal-controller`), replica `instance`.
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance: instance.to_owned(),
        }
    }

    /// Creates one Event about `regarding`, in its namespace.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let now = k8s_openapi::jiff::Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            now.as_nanosecond()
        );
        let object = K8sEvent {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            note: event.note.clone(),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(
                match event.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            ..K8sEvent::default()
        };
        let body = serde_json::to_vec(&object).map_err(kube::Error::SerdeError)?;
        let request = kube::core::Request::new(K8sEvent::url_path(&(), Some(&namespace)))
            .create(&PostParams::default(), body);
        crate::answer::send(&self.client, request).await.map(drop)
    }
}
