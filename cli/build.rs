//! Records the commit the binary is built from, for `ageseal --version`, and links the `ageseal`
//! executable at a fixed address on Linux (glibc) unless `AGESEAL_PIE=1` is set at build time.
//!
//! Why: a position-independent executable makes the dynamic loader patch about 42,000 pointers
//! (740 KB of `.data.rel.ro`) at every start, which costs about 0.6 ms of a 4 ms `ageseal seal`
//! on the project's machine (cli/benches/README.md). The CLI is a short-lived process that
//! starts once per command, so that time is most of what `ageseal --version` costs. The
//! controller, a long-running network service, stays position independent; shared libraries,
//! heap, stack and mmap regions stay randomized either way. Packagers whose policy requires PIE
//! build with `AGESEAL_PIE=1`.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=AGESEAL_COMMIT={commit}");
    for path in ["../.git/HEAD", "../.git/refs/heads", "../.git/packed-refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=AGESEAL_PIE");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if linux_gnu && var("AGESEAL_PIE") != "1" {
        println!("cargo:rustc-link-arg-bin=ageseal=-no-pie");
    }
}
