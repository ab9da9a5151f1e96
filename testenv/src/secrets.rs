//! The secret values a suite used, so a check at the end can show that no log holds one of them
//! (plain or base64) and that no private key (`AGE-SECRET-KEY-...`) was ever printed.

use std::sync::Mutex;

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records a secret value used by a test; returns it for convenience. The value must hold an
/// upper-case letter (Kubernetes names cannot, so a name logged on purpose is never mistaken for
/// it) and at least 8 characters (shorter ones occur by chance).
pub fn remember(value: &str) -> String {
    assert!(
        value.chars().any(char::is_uppercase) && value.len() >= 8,
        "secret values of tests need an upper-case letter and 8 characters (see ageseal_testenv::secrets)"
    );
    if let Ok(mut seen) = SEEN.lock() {
        seen.push(value.to_owned());
    }
    value.to_owned()
}

/// What in `text` should not be there, described without repeating it: a remembered value
/// (plain or standard base64) or an age private key.
pub fn leaks(text: &str) -> Vec<String> {
    use base64::Engine;
    let mut found = Vec::new();
    if text.contains("AGE-SECRET-KEY-") {
        found.push("an age private key (AGE-SECRET-KEY-...)".to_owned());
    }
    let seen = SEEN.lock().map(|s| s.clone()).unwrap_or_default();
    for (i, value) in seen.iter().enumerate() {
        let encoded = base64::prelude::BASE64_STANDARD.encode(value);
        if text.contains(value.as_str()) || text.contains(&encoded) {
            found.push(format!("remembered secret value #{i} ({} bytes)", value.len()));
        }
    }
    found
}

/// How many values were remembered (a check that finds nothing must have looked for something).
pub fn count() -> usize {
    SEEN.lock().map(|s| s.len()).unwrap_or_default()
}
