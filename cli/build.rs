//! Records the commit the binary is built from, for `ageseal --version`, and links the `ageseal`
//! executable at a fixed address on Linux (glibc) unless `AGESEAL_PIE=1` is set at build time.
//! The release build, `cargo build-cli` (.cargo/config.toml), also links it statically.
//!
//! Why: a position-independent executable makes the dynamic loader patch about 42,000 pointers
//! (740 KB of `.data.rel.ro`) at every start, which costs about 0.6 ms of a 4 ms `ageseal seal`
//! on the project's machine (cli/benches/README.md). The CLI is a short-lived process that
//! starts once per command, so that time is most of what `ageseal --version` costs. The
//! controller, a long-running network service, stays position independent; heap, stack and mmap
//! regions stay randomized either way, and so do shared libraries in a dynamically linked build
//! (in the static one, libc's code is part of the executable, at its fixed address). Packagers
//! whose policy requires PIE build with `AGESEAL_PIE=1` and `cargo install --path cli`
//! (dynamically linked, position independent).
//!
//! Linked statically (`cargo build-cli`), a command also starts without the dynamic loader: no
//! libc, libm and libgcc_s to map, no symbols to bind, no libgcc_s start-up; `ageseal --version`
//! took 0.72 ms of CPU instead of 1.19 ms. Host names are still looked up through glibc's NSS:
//! `files` and `dns` are part of glibc itself (2.34 and later); other modules named in
//! /etc/nsswitch.conf are loaded at run time and need the glibc the binary was built with, so
//! build it on (or for) the system that runs it, as `cargo install` does.

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
    // Linked statically through RUSTFLAGS (`-C target-feature=+crt-static`), rustc picks static
    // or static-pie itself from the relocation model, and `-no-pie` beside `-static-pie` would
    // make a binary that cannot start. (`cargo build-cli` passes its flags to the final link
    // only, where this script cannot see them: it asks for a fixed address with them.)
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if linux_gnu && !crt_static && var("AGESEAL_PIE") != "1" {
        println!("cargo:rustc-link-arg-bin=ageseal=-no-pie");
    }
}
