//! Every log line of this binary, at TRACE, holds no secret value and no private key. (The real
//! controller process, key making included, is checked the same way on the control plane.)

use std::sync::Arc;

use ageseal_controller::keys::KeyStore;
use ageseal_controller::reconcile::reconcile;
use ageseal_core::{Identity, Keyring};

use super::support::*;

#[test]
fn logs_of_a_full_run_hold_no_secret_value_or_private_key() {
    use base64::Engine;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let east = Identity::generate();
    let secret_values = ["pa55-w0rd-ZEBRA", "tok-QUOKKA-9182"];
    runtime.block_on(async {
        let client = fake(None).await;
        let store = Arc::new(KeyStore::holding(Keyring::new([east.clone()])));
        let ctx = context_with(&client, store);
        let good = sealed(
            "db",
            NS,
            &[("password", secret_values[0]), ("token", secret_values[1])],
            &[&east],
        );
        let mut moved = good.clone();
        moved.metadata.namespace = Some("billing".into());
        for obj in [good.clone(), moved] {
            let obj = create(&client, &obj).await;
            let _ = reconcile(obj.clone(), ctx.clone()).await;
            let _ = reconcile(fresh(&client, &obj).await, ctx.clone()).await;
        }
        put_secret(&client, "taken", &[], None).await;
        let mut taken = good;
        taken.metadata.name = Some("taken".into());
        let _ = reconcile(create(&client, &taken).await, ctx).await;
    });
    let logs = String::from_utf8_lossy(&logs().0.lock().expect("lock")).into_owned();
    assert!(
        logs.len() > 200,
        "the run logged almost nothing, so this test proves nothing: {logs}"
    );
    assert!(
        logs.contains("ScopeMismatch") || logs.contains("SecretNotOwned"),
        "failures were not logged: {logs}"
    );
    let secret_key = east.to_secret_string();
    let mut forbidden: Vec<String> = vec![
        "AGE-SECRET-KEY".into(),
        secret_key.to_lowercase(),
        secret_key.to_string(),
    ];
    for value in secret_values {
        forbidden.push(value.to_owned());
        forbidden.push(base64::prelude::BASE64_STANDARD.encode(value));
    }
    for needle in &forbidden {
        assert!(!logs.contains(needle.as_str()), "the logs hold secret material");
    }
}
