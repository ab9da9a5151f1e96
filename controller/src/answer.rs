//! Requests whose answers may hold secrets: the controller keeps those answers out of kube's
//! typed methods.
//!
//! Writes. The API server answers a PATCH or POST with the whole object it stored, and kube's
//! typed methods parse all of it: an applied Secret's values, a key Secret's private key, a
//! SealedSecret's sealed values and managed fields. The controller needs at most the
//! resourceVersion. So writes ([`send`]) ask for the object's metadata only (`Accept:
//! ...;as=PartialObjectMetadata`, which the API server honours for writes as for reads; a server
//! that cannot falls back to the whole object), keep the answer as text, wiped when dropped, and
//! read only that field. A written Secret's values therefore do not travel back at all.
//!
//! Reads of Secrets ([`read`], [`read_opt`]): the answer is parsed here, from text wiped when
//! dropped. kube's typed methods, given an answer they cannot parse, log the whole answer at warn
//! level (which the controller's default log filter shows) and return serde's error, which can
//! quote a value; here the error says only where parsing stopped.
//!
//! Errors from the API server itself are kube's own (`kube::Error::Api` carries its Status).

use serde::de::DeserializeOwned;
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

/// An answer that is not the JSON expected. Says where parsing stopped, never what it read.
#[derive(Debug, thiserror::Error)]
#[error(
    "the API server's answer could not be read as {what} ({problem} at line {line}, column {column}; its content is not shown because it may hold secrets): check that the controller reaches the API server itself, not a proxy that rewrites answers"
)]
pub struct Unreadable {
    what: &'static str,
    problem: &'static str,
    line: usize,
    column: usize,
}

/// Sends a read built by [`kube::core::Request`] and parses the answer as `T` (`what` names it
/// in an error).
pub async fn read<T: DeserializeOwned>(
    client: &kube::Client,
    request: Result<::http::Request<Vec<u8>>, kube::core::request::Error>,
    what: &'static str,
) -> Result<T, kube::Error> {
    let request = request.map_err(kube::Error::BuildRequest)?;
    let text = Zeroizing::new(client.request_text(request).await?);
    serde_json::from_str(&text).map_err(|e| {
        kube::Error::Service(Box::new(Unreadable {
            what,
            problem: match e.classify() {
                serde_json::error::Category::Data => "unexpected content",
                serde_json::error::Category::Eof => "cut short",
                _ => "not JSON",
            },
            line: e.line(),
            column: e.column(),
        }))
    })
}

/// [`read`], with `None` for an object that does not exist (404).
pub async fn read_opt<T: DeserializeOwned>(
    client: &kube::Client,
    request: Result<::http::Request<Vec<u8>>, kube::core::request::Error>,
    what: &'static str,
) -> Result<Option<T>, kube::Error> {
    match read(client, request, what).await {
        Ok(object) => Ok(Some(object)),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
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
