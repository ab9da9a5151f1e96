//! ageseal-controller: turns SealedSecrets into Secrets in one region's cluster.
//!
//! [`secret::desired_secret`] is the one path from a SealedSecret to the Secret that is applied;
//! the offline `render` command and [`reconcile::reconcile`] both go through it.

pub mod answer;
pub mod api_client;
pub mod events;
pub mod http;
pub mod key_sync;
pub mod keys;
pub mod lean;
pub mod lease;
pub mod metrics;
pub mod offline;
pub mod permissions;
pub mod reconcile;
pub mod run;
pub mod secret;
pub mod watch;
