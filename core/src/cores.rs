//! Running independent pieces of work (the key agreements of a Secret's stanzas) on every core
//! the process may use, from a short-lived command, when there are enough of them.
//!
//! One thread per core takes the next piece whenever it is free, so a thread the kernel starts
//! late (on the project's 2-core machine a new thread often waits for its parent's CPU, or for
//! an idle CPU to wake) takes fewer pieces instead of holding the others up. Tried on that
//! machine (cli/benches/README.md): fixed halves per thread, and the calling thread working
//! beside one helper with or without asking the helper to avoid the caller's CPU; none was
//! faster, and the helper that avoided the caller's CPU made hybrid sealing slower.
//!
//! A small job stays on the calling thread: asking how many cores there are (std reads the
//! cgroup's CPU quota), starting the threads and their malloc arenas cost about 0.3 ms of CPU,
//! and on that machine the second thread usually began only once the first had done most of
//! the work, so a 5-key Secret for 3 regions sealed 0.1 to 0.5 ms faster without them.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` applied to every item, results in the items' order. After a failure no new item is
/// started; the failure of the earliest item is returned. Fewer than `parallel_from` items are
/// done on the calling thread.
pub(crate) fn map_on_cores<T: Sync, R: Send, E: Send>(
    items: &[T],
    parallel_from: usize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    if items.len() < parallel_from {
        return items.iter().map(work).collect();
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len());
    if threads <= 1 {
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
    let mut done = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(take_turns)).collect();
        let mut done = Vec::with_capacity(items.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..50).collect();
        let doubled = map_on_cores(&items, 1, |n| Ok::<_, ()>(n * 2)).expect("no failure");
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        let none: Vec<u32> = Vec::new();
        assert_eq!(map_on_cores(&none, 1, |n| Ok::<_, ()>(*n)), Ok(vec![]));
    }

    #[test]
    fn a_small_job_runs_on_the_calling_thread_with_the_same_results() {
        let caller = std::thread::current().id();
        let items: Vec<u32> = (0..50).collect();
        let doubled = map_on_cores(&items, 51, |n| {
            assert_eq!(std::thread::current().id(), caller, "no thread started");
            Ok::<_, ()>(n * 2)
        })
        .expect("no failure");
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        let started = AtomicUsize::new(0);
        let result = map_on_cores(&items, 51, |n| {
            started.fetch_add(1, Ordering::Relaxed);
            if *n >= 3 { Err(*n) } else { Ok(*n) }
        });
        assert_eq!(result, Err(3));
        assert_eq!(started.load(Ordering::Relaxed), 4, "nothing after the failure");
    }

    #[test]
    fn the_earliest_failure_is_returned_and_later_items_are_not_started() {
        let started = AtomicUsize::new(0);
        let items: Vec<u32> = (0..1000).collect();
        let result = map_on_cores(&items, 1, |n| {
            started.fetch_add(1, Ordering::Relaxed);
            if *n >= 3 { Err(*n) } else { Ok(*n) }
        });
        // Items are taken in index order, so the first failing item (3) was taken before any
        // later one; a few later ones may have started before the failure stopped the rest.
        assert_eq!(result, Err(3));
        assert!(
            started.load(Ordering::Relaxed) < 100,
            "work stopped after the failure"
        );
    }
}
