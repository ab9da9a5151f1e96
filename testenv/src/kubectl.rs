//! `kubectl` as tests use it: the real client, for input, server-side apply and reading objects.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// kubectl bound to a kubeconfig (and optionally a context).
#[derive(Debug, Clone)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    context: Option<String>,
}

impl Kubectl {
    /// kubectl with this kubeconfig and its current context.
    pub fn new(kubeconfig: &Path) -> Self {
        Self {
            kubeconfig: kubeconfig.to_path_buf(),
            context: None,
        }
    }

    /// The same kubeconfig, another context.
    pub fn with_context(&self, context: &str) -> Self {
        Self {
            kubeconfig: self.kubeconfig.clone(),
            context: Some(context.to_owned()),
        }
    }

    /// Runs `kubectl args` with `stdin`; stdout on success, stderr (and stdout) on failure.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut command = Command::new("kubectl");
        command.env("KUBECONFIG", &self.kubeconfig);
        if let Some(context) = &self.context {
            command.args(["--context", context]);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("kubectl cannot run (is it installed?): {e}"))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .map_err(|e| format!("kubectl stdin: {e}"))?;
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().map_err(|e| format!("kubectl: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "kubectl {}: {}{stdout}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// [`Kubectl::run`] that must succeed.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.run(args, stdin).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `kubectl apply --server-side` of `manifests` (field manager `ageseal-tests`).
    pub fn apply(&self, manifests: &str) -> String {
        self.ok(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=ageseal-tests",
                "-f",
                "-",
            ],
            Some(manifests),
        )
    }

    /// An object as JSON (`kubectl get KIND NAME -n NS -o json`), or `None` if it does not exist.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<serde_json::Value> {
        let out = self
            .run(
                &[
                    "get",
                    kind,
                    name,
                    "-n",
                    namespace,
                    "-o",
                    "json",
                    "--ignore-not-found",
                ],
                None,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        if out.trim().is_empty() {
            return None;
        }
        Some(serde_json::from_str(&out).expect("kubectl prints JSON"))
    }

    /// Creates a namespace (server-side apply, so an existing one is fine).
    pub fn namespace(&self, name: &str) {
        self.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
        ));
    }
}
