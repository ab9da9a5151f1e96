//! Several regions for tests: each a local control plane of its own with deploy/ installed, and
//! one kubeconfig with a context per region (speaking as its admin), as an operator has.

use std::path::{Path, PathBuf};

use crate::control_plane::{ControlPlane, User};
use crate::deploy;

/// Named regions, each its own control plane.
#[derive(Debug)]
pub struct Regions {
    planes: Vec<(String, ControlPlane)>,
    dir: tempfile::TempDir,
}

impl Regions {
    /// Starts a control plane per name (one after the other), installs deploy/ in each.
    pub fn start(names: &[&str]) -> Result<Self, String> {
        let mut planes = Vec::new();
        for name in names {
            let plane = ControlPlane::start_local()?;
            deploy::install(&plane).map_err(|e| format!("region {name}: {e}"))?;
            planes.push(((*name).to_owned(), plane));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let regions = Self { planes, dir };
        regions.write_kubeconfig()?;
        Ok(regions)
    }

    fn write_kubeconfig(&self) -> Result<(), String> {
        let contexts: Vec<(&str, &ControlPlane, User)> = self
            .planes
            .iter()
            .map(|(n, p)| (n.as_str(), p, User::Admin))
            .collect();
        ControlPlane::merged_kubeconfig(&self.kubeconfig(), &contexts)
    }

    /// A kubeconfig with one context per region, named after it.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The control plane of region `name`.
    pub fn plane(&self, name: &str) -> &ControlPlane {
        self.planes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no region {name}"))
    }

    /// Adds a region (a new control plane) and rewrites the kubeconfig.
    pub fn add(&mut self, name: &str) -> Result<(), String> {
        let plane = ControlPlane::start_local()?;
        deploy::install(&plane).map_err(|e| format!("region {name}: {e}"))?;
        self.planes.push((name.to_owned(), plane));
        self.write_kubeconfig()
    }

    /// Stops and forgets a region, as if it were lost; rewrites the kubeconfig.
    pub fn lose(&mut self, name: &str) -> Result<(), String> {
        self.planes.retain(|(n, _)| n != name);
        self.write_kubeconfig()
    }

    /// The last lines of every region's components.
    pub fn logs(&self) -> String {
        self.planes
            .iter()
            .map(|(name, plane)| format!("===== region {name}\n{}", plane.logs()))
            .collect()
    }

    /// A scratch folder that lives as long as the regions.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }
}
