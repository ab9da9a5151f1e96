//! Running a few independent pieces of work (a Secret's values to seal) on every core the
//! process may use, from a short-lived command.
//!
//! Measured on the project's 2-core machine (cli/benches/README.md): a new thread that the kernel
//! starts on its parent's CPU preempts the parent and runs first, so two worker threads did their
//! halves one after the other; and a CPU that has been idle can take about half a millisecond to
//! start a thread. So the calling thread works too, each helper asks to run anywhere but the
//! caller's CPU, and every thread takes the next piece when it is free: a helper that starts
//! late takes fewer pieces instead of making the caller wait for it.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` applied to every item, results in the items' order. After a failure no new item is
/// started; the failure of the earliest item is returned.
pub(crate) fn map_on_cores<T: Sync, R: Send, E: Send>(
    items: &[T],
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let helpers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len())
        .saturating_sub(1);
    if helpers == 0 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let take_turns = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            let result = work(item);
            if result.is_err() {
                next.store(items.len(), Ordering::Relaxed);
            }
            done.push((index, result));
        }
    };
    let caller = current_cpu();
    let mut done = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers)
            .map(|_| {
                scope.spawn(|| {
                    if std::env::var_os("XX_NOPIN").is_none() {
                        avoid_cpu(caller);
                    }
                    take_turns()
                })
            })
            .collect();
        let mut done = take_turns();
        for handle in handles {
            done.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        done
    });
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(target_os = "linux")]
fn current_cpu() -> Option<usize> {
    Some(rustix::thread::sched_getcpu())
}

#[cfg(not(target_os = "linux"))]
fn current_cpu() -> Option<usize> {
    None
}

/// Best effort: lets this thread run on any allowed CPU but `cpu`.
#[cfg(target_os = "linux")]
fn avoid_cpu(cpu: Option<usize>) {
    let (Some(cpu), Ok(mut allowed)) = (cpu, rustix::thread::sched_getaffinity(None)) else {
        return;
    };
    allowed.unset(cpu);
    if allowed.count() > 0 {
        let _ = rustix::thread::sched_setaffinity(None, &allowed);
    }
}

#[cfg(not(target_os = "linux"))]
fn avoid_cpu(_: Option<usize>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..50).collect();
        let doubled = map_on_cores(&items, |n| Ok::<_, ()>(n * 2)).expect("no failure");
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        let none: Vec<u32> = Vec::new();
        assert_eq!(map_on_cores(&none, |n| Ok::<_, ()>(*n)), Ok(vec![]));
    }

    #[test]
    fn the_earliest_failure_is_returned_and_later_items_are_not_started() {
        let started = AtomicUsize::new(0);
        let items: Vec<u32> = (0..1000).collect();
        let result = map_on_cores(&items, |n| {
            started.fetch_add(1, Ordering::Relaxed);
            if *n >= 3 { Err(*n) } else { Ok(*n) }
        });
        // Items run in index order per thread, so the earliest failure any thread saw is item 3
        // unless a helper took it; either way it is the smallest failing index that ran.
        assert!(matches!(result, Err(n) if (3..10).contains(&n)), "{result:?}");
        assert!(
            started.load(Ordering::Relaxed) < 100,
            "work stopped after the failure"
        );
    }
}
