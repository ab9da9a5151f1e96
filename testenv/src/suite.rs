//! The runner of a test binary (`harness = false`) whose tests need a control plane: one control
//! plane for the whole binary, tests in parallel, then those that must run alone, then checks that
//! look back on the whole run. Without a control plane it prints `SKIPPED` on a line of its own
//! and reports every test as ignored, never as passed.

use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Conclusion, Failed, Trial};

use crate::control_plane::{ControlPlane, unavailable};

/// When a test runs relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// With the other parallel tests (each in its own namespaces).
    Parallel,
    /// Alone, after the parallel ones (it changes something all tests share, e.g. RBAC).
    Alone,
    /// After everything else (e.g. a look at the logs of the whole run).
    Last,
}

type Body<W> = Box<dyn FnOnce(Arc<W>) + Send>;

/// One test of a suite whose tests share a `W`: one control plane by default, or whatever the
/// suite starts (several regions, say).
pub struct Test<W = ControlPlane> {
    name: String,
    phase: Phase,
    local_only: bool,
    body: Body<W>,
}

impl<W> std::fmt::Debug for Test<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Test")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<W> Test<W> {
    /// A test that runs in parallel with the others.
    pub fn new(name: &str, body: impl FnOnce(Arc<W>) + Send + 'static) -> Self {
        Self {
            name: name.to_owned(),
            phase: Phase::Parallel,
            local_only: false,
            body: Box::new(body),
        }
    }

    /// Runs alone, after the parallel tests.
    pub fn alone(mut self) -> Self {
        self.phase = Phase::Alone;
        self
    }

    /// Runs after every other test.
    pub fn last(mut self) -> Self {
        self.phase = Phase::Last;
        self
    }

    /// Needs a control plane this process runs (it stops the API server, or starts its own):
    /// ignored against an external cluster.
    pub fn local_only(mut self) -> Self {
        self.local_only = true;
        self
    }
}

fn selected(args: &Arguments, name: &str) -> bool {
    let by_filter = match &args.filter {
        None => true,
        Some(filter) if args.exact => name == filter,
        Some(filter) => name.contains(filter.as_str()),
    };
    by_filter && !args.skip.iter().any(|s| name.contains(s.as_str()))
}

fn ignored<W>(tests: Vec<Test<W>>, why: &str) -> Vec<Trial> {
    tests
        .into_iter()
        .map(|t| {
            let why = why.to_owned();
            Trial::test(t.name, move || Err(Failed::from(why))).with_ignored_flag(true)
        })
        .collect()
}

fn add(total: &mut Conclusion, part: &Conclusion) {
    total.num_filtered_out += part.num_filtered_out;
    total.num_passed += part.num_passed;
    total.num_failed += part.num_failed;
    total.num_ignored += part.num_ignored;
    total.num_measured += part.num_measured;
}

/// Reports a suite that cannot run here: `SKIPPED: NAME: WHY` on a line of its own, and every test
/// as ignored, never as passed.
pub fn skip<W>(name: &str, why: &str, tests: Vec<Test<W>>) -> ExitCode {
    let args = Arguments::from_args();
    if !args.list {
        println!("SKIPPED: {name}: {why}");
    }
    libtest_mimic::run(&args, ignored(tests, why)).exit_code()
}

/// Runs `tests` of suite `name` against one control plane, after `setup` (e.g. installing the
/// CRD). Call from the test binary's `main`.
pub fn run(
    name: &str,
    setup: impl FnOnce(&ControlPlane) -> Result<(), String>,
    tests: Vec<Test>,
) -> ExitCode {
    run_with(
        name,
        false,
        || {
            let plane = ControlPlane::start()?;
            setup(&plane).map_err(|e| format!("{e}\n{}", plane.logs()))?;
            Ok(plane)
        },
        |plane| (plane.is_local(), plane.logs()),
        tests,
    )
}

/// Runs `tests` of suite `name` sharing what `start` makes (`describe` says whether it is local,
/// and its logs for failure reports). With `needs_local`, a given cluster does not do: the suite
/// runs control planes of its own (several regions, say). Call from the test binary's `main`.
pub fn run_with<W: Send + Sync + 'static>(
    name: &str,
    needs_local: bool,
    start: impl FnOnce() -> Result<W, String>,
    describe: impl Fn(&W) -> (bool, String),
    tests: Vec<Test<W>>,
) -> ExitCode {
    let args = Arguments::from_args();
    if args.list {
        return libtest_mimic::run(&args, ignored(tests, "listed only")).exit_code();
    }
    let missing = if needs_local {
        crate::control_plane::assets().err()
    } else {
        unavailable()
    };
    if let Some(why) = missing {
        return skip(name, &format!("no Kubernetes control plane: {why}"), tests);
    }
    if !tests.iter().any(|t| selected(&args, &t.name)) {
        return libtest_mimic::run(&args, ignored(tests, "filtered out")).exit_code();
    }
    let plane = match start() {
        Ok(plane) => Arc::new(plane),
        Err(e) => {
            println!("{name}: the control plane did not start or set up: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut total = Conclusion {
        num_filtered_out: 0,
        num_passed: 0,
        num_failed: 0,
        num_ignored: 0,
        num_measured: 0,
    };
    let local = describe(&plane).0;
    let mut phases: [Vec<Trial>; 3] = Default::default();
    for test in tests {
        let index = test.phase as usize;
        let skip = test.local_only && !local;
        let plane = plane.clone();
        let body = test.body;
        let trial = Trial::test(test.name, move || {
            body(plane);
            Ok(())
        })
        .with_ignored_flag(skip);
        phases[index].push(trial);
    }
    for (index, trials) in phases.into_iter().enumerate() {
        if trials.is_empty() {
            continue;
        }
        let mut phase_args = args.clone();
        phase_args.test_threads = if index == Phase::Parallel as usize {
            Some(args.test_threads.unwrap_or(4))
        } else {
            Some(1)
        };
        add(&mut total, &libtest_mimic::run(&phase_args, trials));
    }
    if total.has_failed() {
        println!(
            "{name}: control-plane logs after the failure:\n{}",
            describe(&plane).1
        );
    }
    drop(plane);
    total.exit_code()
}
