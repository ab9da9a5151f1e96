//! ageseal-kms against moto_server (Python's moto, a real KMS-compatible HTTP endpoint started
//! here on a free loopback port with test credentials), and the fake for what moto cannot do.

use std::net::TcpListener;

use ageseal_core::Identity;
use ageseal_core::wrapped::{PURPOSE_CONTROLLER, PURPOSE_IDENTITY, context_for};
use ageseal_kms::fake::FakeKms;
use ageseal_kms::moto::Moto;
use ageseal_kms::{AwsKms, KmsError, unwrap_identity, wrap_identity};

#[tokio::test]
async fn moto_wraps_and_unwraps_and_refuses_a_wrong_context_or_key() {
    let moto = Moto::start();
    let kms = moto.kms();
    let arn = moto.create_key("us-east-1").await;
    let identity = Identity::generate();
    let context = context_for(PURPOSE_IDENTITY, identity.recipient(), &[]);
    let wrapped = wrap_identity(&kms, &arn, &identity, context)
        .await
        .expect("wraps");
    let text = wrapped.to_text();
    assert!(
        !text.contains(identity.to_secret_string().as_str()),
        "plaintext key in the file"
    );
    let parsed = ageseal_core::wrapped::WrappedIdentity::parse(&text).expect("parses");
    let unwrapped = unwrap_identity(&kms, &parsed, PURPOSE_IDENTITY, &[])
        .await
        .expect("unwraps");
    assert_eq!(unwrapped.recipient(), identity.recipient());

    // A file claiming another purpose is refused before KMS is asked.
    let mut wrong = parsed.clone();
    wrong.context.insert("purpose".into(), "something-else".into());
    let err = unwrap_identity(&kms, &wrong, PURPOSE_IDENTITY, &[])
        .await
        .map(|_| ())
        .expect_err("refused");
    assert!(matches!(err, KmsError::Wrapped(_)), "{err:?}");
    // An identity wrapped for the controller does not open as a user's identity.
    assert!(
        unwrap_identity(&kms, &parsed, PURPOSE_CONTROLLER, &[("region", "us-east-1")])
            .await
            .is_err()
    );
    // A file whose context was edited to the expected one: KMS itself refuses the ciphertext.
    let other = context_for(PURPOSE_IDENTITY, identity.recipient(), &[("region", "x")]);
    let mut edited = wrap_identity(&kms, &arn, &identity, other).await.expect("wraps");
    edited.context = parsed.context.clone();
    assert_eq!(
        unwrap_identity(&kms, &edited, PURPOSE_IDENTITY, &[])
            .await
            .map(|_| ()),
        Err(KmsError::WrongContext { key: arn.clone() })
    );

    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    let err = wrap_identity(&kms, missing, &identity, parsed.context.clone())
        .await
        .map(|_| ())
        .expect_err("no key");
    assert!(matches!(err, KmsError::KeyNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_says_so() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let kms = AwsKms::with_local_endpoint(&format!("http://127.0.0.1:{closed}"), "t", "t");
    let identity = Identity::generate();
    let arn = "arn:aws:kms:us-east-1:123456789012:key/x";
    let err = wrap_identity(
        &kms,
        arn,
        &identity,
        context_for(PURPOSE_IDENTITY, identity.recipient(), &[]),
    )
    .await
    .map(|_| ())
    .expect_err("unreachable");
    assert!(matches!(err, KmsError::Unreachable { .. }), "{err:?}");
    assert!(err.hint().contains("AWS_ENDPOINT_URL_KMS"));
}

#[tokio::test]
async fn the_fake_covers_disabled_keys_and_denied_callers() {
    let kms = FakeKms::default();
    let arn = "arn:aws:kms:us-east-1:123456789012:key/fake";
    let identity = Identity::generate();
    let region = [("region", "us-east-1")];
    let context = context_for(PURPOSE_CONTROLLER, identity.recipient(), &region);
    let wrapped = wrap_identity(&kms, arn, &identity, context).await.expect("wraps");
    let unwrap = |w| unwrap_identity(&kms, w, PURPOSE_CONTROLLER, &region);
    kms.set_disabled(arn, true);
    assert_eq!(
        unwrap(&wrapped).await.map(|_| ()),
        Err(KmsError::KeyDisabled { key: arn.into() })
    );
    kms.set_disabled(arn, false);
    kms.set_denied(arn, true);
    let err = unwrap(&wrapped).await.map(|_| ()).expect_err("denied");
    assert_eq!(err, KmsError::AccessDenied { key: arn.into() });
    assert!(err.hint().contains("kms:Decrypt"));
    kms.set_denied(arn, false);
    assert!(unwrap(&wrapped).await.is_ok());
    let mut swapped = wrapped.clone();
    swapped.recipient = Identity::generate().recipient().clone();
    swapped
        .context
        .insert("recipient".into(), swapped.recipient.to_string());
    assert!(
        unwrap(&swapped).await.is_err(),
        "a file naming another recipient must not open"
    );
}

#[tokio::test]
async fn moto_wraps_and_unwraps_a_hybrid_post_quantum_identity() {
    let moto = Moto::start();
    let kms = moto.kms();
    let arn = moto.create_key("us-east-1").await;
    let identity = Identity::generate_hybrid();
    // The context names the 1,216-byte public key (about 2 KB of Bech32): within KMS's bounds.
    let context = context_for(
        PURPOSE_CONTROLLER,
        identity.recipient(),
        &[("region", "us-east-1")],
    );
    let wrapped = wrap_identity(&kms, &arn, &identity, context)
        .await
        .expect("wraps");
    let text = wrapped.to_text();
    assert!(text.contains("recipient: age1pq1"), "{text}");
    assert!(!text.contains(identity.to_secret_string().as_str()));
    let parsed = ageseal_core::wrapped::WrappedIdentity::parse(&text).expect("parses");
    let unwrapped = unwrap_identity(&kms, &parsed, PURPOSE_CONTROLLER, &[("region", "us-east-1")])
        .await
        .expect("unwraps");
    assert!(unwrapped.is_hybrid());
    assert_eq!(unwrapped.recipient(), identity.recipient());
}
