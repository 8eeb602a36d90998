//! Reads a scan's files on background threads, ahead of the caller, and hands them over
//! in order. Reading a file (fetching and decompressing its pages, decoding the
//! columns) is most of a search's, a histogram's or a facet's time; with one reader per
//! core the files are decoded in parallel while the caller checks and counts the rows of
//! the previous one, in the order it needs them (newest first).
//!
//! Memory stays bounded: a reader starts a job only while it is fewer than
//! [`AHEAD`] × readers jobs past the one the caller waits for, and hands it over through
//! a rendezvous channel, so at most that many files wait ahead of the caller however
//! the threads are scheduled.
//!
//! The caller may learn, while it goes, that later files need not be read at all (a
//! search page that is already full); it marks them through [`Skips`] and readers that
//! have not started them pass them over.
//!
//! Work whose outcome does not depend on the order (a LogQL metric query's samples)
//! uses [`each`] instead: every thread reads a file and visits it itself, into a state
//! of its own that the caller merges, so the visiting is parallel too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Condvar, Mutex};

/// Jobs each reader may be ahead of the caller.
const AHEAD: usize = 2;

/// The job the caller waits for, which bounds how far readers may run ahead.
struct Window {
    wanted: Mutex<usize>,
    moved: Condvar,
}

impl Window {
    /// Blocks until job `i` is within `span` of the wanted one; false when the caller
    /// stopped meanwhile ([`Release`]), and the job must not be read.
    fn wait_for(&self, i: usize, span: usize) -> bool {
        let mut w = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
        while i >= w.saturating_add(span) {
            w = self.moved.wait(w).unwrap_or_else(|e| e.into_inner());
        }
        *w != usize::MAX
    }

    fn set(&self, wanted: usize) {
        *self.wanted.lock().unwrap_or_else(|e| e.into_inner()) = wanted;
        self.moved.notify_all();
    }
}

/// Releases every waiting reader when the caller stops, however it stops.
struct Release<'a>(&'a Window);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.set(usize::MAX);
    }
}

use crate::QueryError;

/// Jobs the caller no longer needs read.
pub(crate) struct Skips<'a>(&'a [AtomicBool]);

impl Skips<'_> {
    /// Job `i` need not be read (a reader that already started it finishes it).
    pub(crate) fn mark(&self, i: usize) {
        if let Some(s) = self.0.get(i) {
            s.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `read` on every job, on up to one thread per core, and `consume` on each result
/// in job order, on the calling thread. A job marked skipped before a reader took it
/// comes to `consume` as `None`. The first error of `consume` ends the run: readers
/// stop after the job they are on.
pub(crate) fn in_order<J: Sync, T: Send>(
    jobs: &[J],
    read: impl Fn(&J) -> T + Sync,
    mut consume: impl FnMut(usize, Option<T>, &Skips<'_>) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    let skip: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let skips = Skips(&skip);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    if threads <= 1 {
        for (i, job) in jobs.iter().enumerate() {
            let out = (!skip[i].load(Ordering::Relaxed)).then(|| read(job));
            consume(i, out, &skips)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let window = Window {
        wanted: Mutex::new(0),
        moved: Condvar::new(),
    };
    let span = AHEAD * threads;
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<(usize, Option<T>)>(0);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, skip, read, window) = (&next, &skip, &read, &window);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if !window.wait_for(i, span) {
                        break; // the caller has stopped: no job past its window
                    }
                    let out = (!skip[i].load(Ordering::Relaxed)).then(|| read(job));
                    if tx.send((i, out)).is_err() {
                        break; // the caller has stopped
                    }
                }
            });
        }
        drop(tx);
        let _release = Release(&window);
        let mut early: BTreeMap<usize, Option<T>> = BTreeMap::new();
        for want in 0..jobs.len() {
            window.set(want);
            let out = loop {
                if let Some(out) = early.remove(&want) {
                    break out;
                }
                match rx.recv() {
                    Ok((i, out)) => {
                        early.insert(i, out);
                    }
                    Err(_) => {
                        return Err(QueryError::Internal(format!(
                            "file reader stopped before file {want} of {}",
                            jobs.len()
                        )));
                    }
                }
            };
            consume(want, out, &skips)?;
        }
        Ok(())
    })
}

/// Runs `work` on every job on one thread per worker state in `workers` (each thread
/// takes the next job not yet taken, with its own state), for work whose outcome does
/// not depend on the order. The first error ends the run: the other threads stop after
/// the job they are on, and that error is returned.
pub(crate) fn each<J: Sync, W: Send>(
    jobs: &[J],
    workers: &mut [W],
    work: impl Fn(&mut W, &J) -> Result<(), QueryError> + Sync,
) -> Result<(), QueryError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let run = |w: &mut W| -> Result<(), QueryError> {
        while !failed.load(Ordering::Relaxed) {
            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            if let Err(e) = work(w, job) {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    };
    match workers {
        [] => Ok(()),
        [only] => run(only),
        [first, rest @ ..] => std::thread::scope(|s| {
            let others: Vec<_> = rest.iter_mut().map(|w| s.spawn(|| run(w))).collect();
            let mut out = run(first);
            for h in others {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(QueryError::Internal("a scan thread panicked".into())));
                out = out.and(r);
            }
            out
        }),
    }
}

/// `f` of every job, on one thread per core, in job order; the first error ends the
/// run and is returned.
pub(crate) fn map<J: Sync, T: Send>(
    jobs: &[J],
    f: impl Fn(&J) -> Result<T, QueryError> + Sync,
) -> Result<Vec<T>, QueryError> {
    let numbered: Vec<(usize, &J)> = jobs.iter().enumerate().collect();
    let mut workers: Vec<Vec<(usize, T)>> = (0..workers(jobs.len())).map(|_| Vec::new()).collect();
    each(&numbered, &mut workers, |out, (i, j)| {
        out.push((*i, f(j)?));
        Ok(())
    })?;
    let mut all: Vec<(usize, T)> = workers.into_iter().flatten().collect();
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// Worker states [`each`] should run: one per core, at most one per job.
pub(crate) fn workers(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_every_job_in_order_and_honours_skips() {
        let jobs: Vec<u64> = (0..50).collect();
        let mut seen = Vec::new();
        in_order(
            &jobs,
            |j| {
                // Uneven work, so readers finish out of order.
                std::thread::sleep(std::time::Duration::from_micros((j % 7) * 200));
                j * 10
            },
            |i, out, skips| {
                if i == 10 {
                    (30..50).for_each(|j| skips.mark(j));
                }
                seen.push((i, out));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 50);
        for (k, (i, out)) in seen.iter().enumerate() {
            assert_eq!(*i, k);
            // Jobs marked late may have been read already; none is read wrongly.
            if let Some(v) = out {
                assert_eq!(*v, *i as u64 * 10);
            }
        }
        // Readers are at most a few jobs ahead, so most of the marked ones were skipped.
        assert!(seen[40..].iter().all(|(_, out)| out.is_none()), "{seen:?}");
    }

    #[test]
    fn an_error_stops_the_run() {
        let jobs: Vec<u32> = (0..100).collect();
        let read = AtomicUsize::new(0);
        let r = in_order(
            &jobs,
            |_| read.fetch_add(1, Ordering::Relaxed),
            |i, _, _| {
                if i == 3 {
                    Err(QueryError::Internal("boom".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(r.is_err());
        // Readers never run more than AHEAD jobs each past the caller, whatever the
        // scheduling: job 3 failed, so at most 4 + AHEAD × readers were read.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(read.load(Ordering::Relaxed) <= 4 + AHEAD * threads.min(100));
    }

    #[test]
    fn a_slow_job_does_not_let_readers_run_ahead() {
        let jobs: Vec<u32> = (0..200).collect();
        let read = AtomicUsize::new(0);
        let mut peak_ahead = 0;
        in_order(
            &jobs,
            |j| {
                if *j == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                read.fetch_add(1, Ordering::SeqCst)
            },
            |i, _, _| {
                peak_ahead = peak_ahead.max(read.load(Ordering::SeqCst) - (i + 1));
                Ok(())
            },
        )
        .unwrap();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // While job 0 sleeps, the other readers may not read the remaining 199.
        assert!(peak_ahead <= AHEAD * threads, "{peak_ahead} read ahead");
    }

    #[test]
    fn each_runs_every_job_once_over_the_worker_states() {
        let jobs: Vec<u64> = (0..200).collect();
        let mut workers = vec![Vec::new(); 3];
        each(&jobs, &mut workers, |w, j| {
            std::thread::sleep(std::time::Duration::from_micros((j % 5) * 50));
            w.push(*j);
            Ok(())
        })
        .unwrap();
        let mut all: Vec<u64> = workers.concat();
        all.sort_unstable();
        assert_eq!(all, jobs);
        assert!(each(&jobs, &mut [] as &mut [Vec<u64>], |_, _| Ok(())).is_ok());
    }

    #[test]
    fn map_keeps_the_jobs_order() {
        let jobs: Vec<u64> = (0..100).collect();
        let out = map(&jobs, |j| {
            std::thread::sleep(std::time::Duration::from_micros((j % 3) * 100));
            Ok(j * 2)
        })
        .unwrap();
        assert_eq!(out, jobs.iter().map(|j| j * 2).collect::<Vec<_>>());
        assert!(map(&[] as &[u64], |j| Ok(*j)).unwrap().is_empty());
        let failed = map(&jobs, |j| match j {
            50 => Err(QueryError::BadData("fifty".into())),
            _ => Ok(*j),
        });
        assert!(matches!(failed, Err(QueryError::BadData(m)) if m == "fifty"));
    }

    #[test]
    fn each_stops_at_an_error_and_returns_it() {
        let jobs: Vec<u64> = (0..1000).collect();
        let mut workers = vec![0usize; 2];
        let r = each(&jobs, &mut workers, |w, j| {
            *w += 1;
            if *j == 10 {
                return Err(QueryError::BadData("job 10".into()));
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
            Ok(())
        });
        assert!(matches!(r, Err(QueryError::BadData(m)) if m == "job 10"));
        assert!(workers.iter().sum::<usize>() < jobs.len(), "{workers:?}");
    }
}
