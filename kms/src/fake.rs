//! An in-memory KMS for the cases a real endpoint (moto) cannot express: disabled keys and
//! denied callers. Ciphertexts are opaque handles; decrypt checks key and context exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::{Kms, KmsError};

type Sealed = (String, BTreeMap<String, String>, Zeroizing<Vec<u8>>);

/// A fake KMS with switches for key state and access.
#[derive(Debug, Default)]
pub struct FakeKms {
    sealed: Mutex<HashMap<Vec<u8>, Sealed>>,
    disabled: Mutex<HashSet<String>>,
    denied: Mutex<HashSet<String>>,
}

impl FakeKms {
    /// Disables (or re-enables) a key.
    pub fn set_disabled(&self, key: &str, disabled: bool) {
        if let Ok(mut set) = self.disabled.lock() {
            if disabled {
                set.insert(key.to_owned())
            } else {
                set.remove(key)
            };
        }
    }

    /// Denies (or allows) every call on a key.
    pub fn set_denied(&self, key: &str, denied: bool) {
        if let Ok(mut set) = self.denied.lock() {
            if denied {
                set.insert(key.to_owned())
            } else {
                set.remove(key)
            };
        }
    }

    fn check(&self, key: &str) -> Result<(), KmsError> {
        if self.denied.lock().is_ok_and(|d| d.contains(key)) {
            return Err(KmsError::AccessDenied { key: key.to_owned() });
        }
        if self.disabled.lock().is_ok_and(|d| d.contains(key)) {
            return Err(KmsError::KeyDisabled { key: key.to_owned() });
        }
        Ok(())
    }
}

impl Kms for FakeKms {
    async fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String), KmsError> {
        self.check(key)?;
        let mut sealed = self.sealed.lock().map_err(|_| KmsError::Other {
            code: "Poisoned".into(),
            message: "fake KMS lock".into(),
        })?;
        let handle = format!("fake-kms-ciphertext-{}", sealed.len()).into_bytes();
        sealed.insert(
            handle.clone(),
            (
                key.to_owned(),
                context.clone(),
                Zeroizing::new(plaintext.to_vec()),
            ),
        );
        Ok((handle, key.to_owned()))
    }

    async fn decrypt(
        &self,
        key: &str,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.check(key)?;
        let sealed = self.sealed.lock().map_err(|_| KmsError::Other {
            code: "Poisoned".into(),
            message: "fake KMS lock".into(),
        })?;
        match sealed.get(ciphertext) {
            Some((k, c, plain)) if k == key && c == context => Ok(plain.clone()),
            _ => Err(KmsError::WrongContext { key: key.to_owned() }),
        }
    }
}
