//! Property tests: seal/unseal round-trips for random values, bindings and recipient sets, and
//! any change to the binding's pinned parts is refused.

use std::sync::OnceLock;

use ageseal_core::{
    Binding, Identity, Keyring, Location, Recipient, RecipientId, Scope, UnsealError, seal, unseal,
};
use proptest::prelude::*;

fn pool() -> &'static [Identity] {
    static POOL: OnceLock<Vec<Identity>> = OnceLock::new();
    POOL.get_or_init(|| (0..6).map(|_| Identity::generate()).collect())
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Strict),
        Just(Scope::NamespaceWide),
        Just(Scope::ClusterWide)
    ]
}

fn location() -> impl Strategy<Value = Location> {
    (
        "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?",
        "[A-Za-z0-9._-]{1,40}",
    )
        .prop_filter("valid names", |(ns, name, key)| {
            !name.contains("..")
                && !name.contains(".-")
                && !name.contains("-.")
                && key != "."
                && key != ".."
                && !ns.ends_with('-')
        })
        .prop_map(|(ns, name, key)| Location::new(ns, name, key))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_recipient_opens_what_was_sealed(
        value in proptest::collection::vec(any::<u8>(), 0..2048),
        scope in scope(),
        location in location(),
        picks in proptest::collection::btree_set(0usize..6, 1..5),
        use_hint in any::<bool>(),
    ) {
        let recipients: Vec<Recipient> = picks.iter().map(|&i| pool()[i].recipient().clone()).collect();
        let binding = Binding::new(scope, &location).expect("valid location");
        let sealed = seal(&value, &binding, &recipients).expect("seals");
        let hint: Vec<Option<RecipientId>> =
            if use_hint { recipients.iter().map(|r| Some(r.id())).collect() } else { Vec::new() };
        for (i, identity) in pool().iter().enumerate() {
            let keyring = Keyring::new([identity.clone()]);
            let result = unseal(&sealed, &keyring, &location, &hint);
            if picks.contains(&i) {
                let opened = result.expect("recipient opens");
                prop_assert_eq!(opened.as_slice(), value.as_slice());
            } else {
                prop_assert_eq!(result.map(|_| ()), Err(UnsealError::NoMatchingKey));
            }
        }
    }

    #[test]
    fn changing_a_pinned_part_of_the_binding_fails(
        value in proptest::collection::vec(any::<u8>(), 0..256),
        scope in scope(),
        location in location(),
        other in location(),
        part in 0usize..3,
    ) {
        let identity = &pool()[0];
        let binding = Binding::new(scope, &location).expect("valid");
        let sealed = seal(&value, &binding, &[identity.recipient().clone()]).expect("seals");
        let mut moved = location.clone();
        match part {
            0 => moved.namespace = other.namespace.clone(),
            1 => moved.name = other.name.clone(),
            _ => moved.key = other.key.clone(),
        }
        let pinned = match part {
            0 => scope != Scope::ClusterWide,
            1 => scope == Scope::Strict,
            _ => true,
        };
        let result = unseal(&sealed, &Keyring::new([identity.clone()]), &moved, &[]);
        if moved == location || !pinned {
            let opened = result.expect("opens");
            prop_assert_eq!(opened.as_slice(), value.as_slice());
        } else {
            prop_assert_eq!(result.map(|_| ()).map_err(|e| e.code()), Err("ScopeMismatch"));
        }
    }
}
