//! The controller against a stateful in-memory Kubernetes API (kube-fake-client), through kube's
//! own `Api`: the light proof where exact requests matter. It has no watch, RBAC, managed fields
//! on create or garbage collection; what needs those is proven on a real control plane
//! (`tests/control_plane`).

mod in_memory {
    pub mod endpoints;
    pub mod events;
    pub mod lease;
    pub mod logs;
    pub mod monitoring;
    pub mod reconcile;
    pub mod support;
}
