//! Finding `.ageseal.yaml`: no further up than the repository root (the folder holding `.git`),
//! never a config another user owns unless it is named with `--config`, and never a config so
//! large or deeply nested that reading it hangs a command or the shell's Tab completion.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use super::support::*;

fn seal_in(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["seal"];
    args.extend(extra);
    ageseal_in(dir, &args, &kubectl(DB), &[])
}

#[test]
fn the_walk_up_stops_at_the_repository_root() {
    let repo = Repo::new();
    // A repository below the folder holding a config: the config above is not its own.
    let inner = repo.path("clone/apps");
    std::fs::create_dir_all(&inner).expect("mkdir");
    std::fs::create_dir_all(repo.path("clone/.git")).expect("mkdir");
    let out = seal_in(&inner, &[]);
    assert_fails(&out, 3, "no .ageseal.yaml found");
    // Without .git in between, the nearest config above governs as before.
    std::fs::remove_dir(repo.path("clone/.git")).expect("rmdir");
    let out = seal_in(&inner, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A `.git` file (a submodule or worktree) marks a root too.
    std::fs::write(repo.path("clone/.git"), "gitdir: ../.git/modules/clone\n").expect("write");
    assert_fails(&seal_in(&inner, &[]), 3, "no .ageseal.yaml found");
}

#[test]
fn a_config_another_user_owns_is_refused_unless_named() {
    let repo = Repo::new();
    let config = repo.path(".ageseal.yaml");
    let me = std::fs::metadata("/proc/self").expect("/proc").uid();
    let other = if me == 0 { 4242 } else { 0 };
    let chown = std::process::Command::new("chown")
        .arg(other.to_string())
        .arg(&config)
        .status()
        .expect("chown runs");
    if !chown.success() {
        // Only root can give a file away; elsewhere this case cannot be set up.
        println!("chown is not allowed here: the other-owner case is not exercised");
        return;
    }
    let work = repo.path("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let out = seal_in(&work, &[]);
    assert_fails(&out, 3, "belongs to another user (uid 4242)");
    assert!(stderr(&out).contains("--config"), "{}", stderr(&out));
    let named = config.display().to_string();
    let out = seal_in(&work, &["--config", &named]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ageseal_in(&work, &["seal"], &kubectl(DB), &[("AGESEAL_CONFIG", named)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_oversized_or_deeply_nested_config_is_refused_at_once_and_completion_stays_quiet() {
    let repo = Repo::new();
    let cases = [
        ("[".repeat(600 * 1024), "a config is at most 256 KiB"),
        (
            format!("regions: {}", "[".repeat(100_000)),
            "nested more than 16 deep",
        ),
    ];
    for (text, needle) in cases {
        repo.write(".ageseal.yaml", &text);
        let started = Instant::now();
        let out = repo.run(&["seal"], &kubectl(DB));
        assert_fails(&out, 3, needle);
        let env = [("COMPLETE", "fish".to_owned())];
        let out = repo.run_env(&["--", "ageseal", "seal", "--region", ""], &env);
        assert!(stderr(&out).is_empty(), "completion printed: {}", stderr(&out));
        // A hang guard, not a benchmark: the parser took over 30 s on such a file.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{needle}: {:?}",
            started.elapsed()
        );
    }
}
