//! Writes to the API server whose answer the controller reads only in part.
//!
//! The API server answers a PATCH or POST with the whole object it stored, and kube's typed
//! methods parse all of it: an applied Secret's values, a SealedSecret's sealed values and
//! managed fields. Reconcile needs at most the resourceVersion. So these writes ask for the
//! object's metadata only (`Accept: ...;as=PartialObjectMetadata`, which the API server honours
//! for writes as for reads; a server that cannot falls back to the whole object), keep the answer
//! as text, wiped when dropped, and read only that field. An applied Secret's values therefore do
//! not travel back to the controller at all. Errors are kube's own (`kube::Error::Api` carries
//! the API server's Status).

use zeroize::Zeroizing;

/// The API server's answer to a write, as text. Never printed.
pub struct Answer(Zeroizing<String>);

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answer(..)")
    }
}

#[derive(serde::Deserialize)]
struct Stored {
    metadata: StoredMeta,
}

#[derive(serde::Deserialize)]
struct StoredMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
}

impl Answer {
    /// Bytes in the answer.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the answer is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The resourceVersion of the object written; `None` when the answer does not carry one
    /// (or is not an object at all).
    pub fn resource_version(&self) -> Option<String> {
        serde_json::from_str::<Stored>(&self.0)
            .ok()
            .and_then(|stored| stored.metadata.resource_version)
    }
}

/// The object's metadata if the API server can give it, else the whole object.
const METADATA_ONLY: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

/// Sends a write built by [`kube::core::Request`] and keeps its answer as text.
pub async fn send(
    client: &kube::Client,
    request: Result<::http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<Answer, kube::Error> {
    let mut request = request.map_err(kube::Error::BuildRequest)?;
    request.headers_mut().insert(
        ::http::header::ACCEPT,
        ::http::HeaderValue::from_static(METADATA_ONLY),
    );
    client
        .request_text(request)
        .await
        .map(|text| Answer(Zeroizing::new(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resource_version_and_nothing_else() {
        let answer = Answer(Zeroizing::new(
            r#"{"kind":"Secret","metadata":{"name":"db","resourceVersion":"4711","managedFields":[{"manager":"x"}]},"data":{"password":"aHVudGVyMg=="}}"#.to_owned(),
        ));
        assert_eq!(answer.resource_version().as_deref(), Some("4711"));
        assert_eq!(format!("{answer:?}"), "Answer(..)");
        let none = Answer(Zeroizing::new(r#"{"metadata":{"name":"db"}}"#.to_owned()));
        assert_eq!(none.resource_version(), None);
        let garbage = Answer(Zeroizing::new("not json".to_owned()));
        assert_eq!(garbage.resource_version(), None);
    }
}
