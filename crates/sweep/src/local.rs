//! The local launcher: a pool of worker processes on this machine.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stab_spec::RunStatus;

use crate::exec::{self, Claim, WorkerCommand};
use crate::store::Store;
use crate::sweep::PlannedRun;
use crate::Error;

/// How long a stopped worker gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);
/// How often runs locked by another launcher are looked at again.
const BUSY_POLL: Duration = Duration::from_millis(100);

/// Options of [`run_local`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Worker processes at once; `None`: `cores / threads` (at least 1).
    pub workers: Option<usize>,
    /// Thread budget of each worker (`--threads`); `None`: the largest `threads` of the runs.
    pub threads: Option<usize>,
    /// Also rerun runs that ended in `error` (interrupted runs are always rerun).
    pub retry: bool,
    pub worker: WorkerCommand,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Stop cleanly on SIGINT and SIGTERM (handlers installed for the duration of the call).
    pub handle_signals: bool,
    /// Setting this flag stops the sweep like Ctrl-C does (for embedding and tests).
    pub cancel: Option<Arc<AtomicBool>>,
}

impl LocalOptions {
    pub fn new(worker: WorkerCommand) -> LocalOptions {
        LocalOptions {
            workers: None,
            threads: None,
            retry: false,
            worker,
            progress: true,
            handle_signals: true,
            cancel: None,
        }
    }

    /// The (workers, threads) this machine gets for `runs`.
    pub fn resolve_budget(&self, runs: &[PlannedRun]) -> (usize, usize) {
        let threads = self
            .threads
            .unwrap_or_else(|| runs.iter().map(|r| r.spec.threads).max().unwrap_or(1))
            .max(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = self.workers.unwrap_or((cores / threads).max(1)).max(1);
        (workers, threads)
    }
}

/// What a launch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub total: usize,
    /// Final before this launch started (or finished by another launcher meanwhile).
    pub skipped: usize,
    pub ok: usize,
    pub diverged: usize,
    pub error: usize,
    pub interrupted: usize,
    /// Stopped by a signal or the cancel flag; some runs were not started.
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl Summary {
    /// Runs this launch executed.
    pub fn ran(&self) -> usize {
        self.ok + self.diverged + self.error + self.interrupted
    }

    fn count(&mut self, s: RunStatus) {
        match s {
            RunStatus::Ok => self.ok += 1,
            RunStatus::Diverged => self.diverged += 1,
            RunStatus::Error => self.error += 1,
            RunStatus::Interrupted => self.interrupted += 1,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} runs: {} already done, ran {} ({} ok, {} diverged, {} error, {} interrupted) in {:.1}s",
            self.total,
            self.skipped,
            self.ran(),
            self.ok,
            self.diverged,
            self.error,
            self.interrupted,
            self.elapsed.as_secs_f64()
        )?;
        if self.cancelled {
            write!(f, "; stopped early, rerun to continue")?;
        }
        Ok(())
    }
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// SIGINT/SIGTERM handlers that count signals; the previous handlers come back on drop.
struct SignalGuard {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl SignalGuard {
    fn install() -> SignalGuard {
        let mut old = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &action, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        SignalGuard { old }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restoring an action the OS gave us.
            unsafe {
                libc::sigaction(*sig, prev, std::ptr::null_mut());
            }
        }
    }
}

struct Queue {
    ready: VecDeque<usize>,
    /// Locked by someone else when last tried.
    busy: Vec<usize>,
}

enum Event {
    Finished(RunStatus),
    Skipped,
    Failed(Error),
}

/// Runs `runs` of `store` with a pool of local worker processes and returns what happened.
///
/// Runs with a final record are skipped; runs locked by another launcher (or a Slurm task) are
/// waited for, and picked up if they are released unfinished. Ctrl-C or SIGTERM kills the
/// running workers (SIGTERM, then SIGKILL after a grace period), records them as `interrupted`
/// and returns with `cancelled` set. A worker that dies without a record gets an `error`
/// record; the sweep goes on. `Err` is returned only for problems of the launcher itself
/// (unwritable store, worker program not found).
pub fn run_local(
    store: &Store,
    runs: &[PlannedRun],
    opts: &LocalOptions,
) -> Result<Summary, Error> {
    let start = Instant::now();
    let sweep = store.expanded()?.sweep;
    let (workers, threads) = opts.resolve_budget(runs);
    let _signals = opts.handle_signals.then(SignalGuard::install);
    let signals_at_start = SIGNALS.load(Ordering::SeqCst);
    let cancelled = || {
        SIGNALS.load(Ordering::SeqCst) != signals_at_start
            || opts
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst))
    };

    let mut summary = Summary {
        total: runs.len(),
        ..Summary::default()
    };
    let mut todo = VecDeque::new();
    for (i, run) in runs.iter().enumerate() {
        if store.state_unlocked(&run.run_id).is_final(opts.retry) {
            summary.skipped += 1;
        } else if exec::held_by_orphan(&store.run_dir(&run.run_id)) {
            // Orphans of a killed launcher go first: waiting for them fills worker slots.
            todo.push_front(i);
        } else {
            todo.push_back(i);
        }
    }
    let bar = progress_bar(opts.progress, todo.len());

    let queue = Mutex::new(Queue {
        ready: todo,
        busy: Vec::new(),
    });
    let wake = Condvar::new();
    let stop = AtomicBool::new(false);
    // Run index → pid of its worker, while the worker has not been reaped.
    let children: Mutex<HashMap<usize, libc::pid_t>> = Mutex::new(HashMap::new());
    let (tx, rx) = mpsc::channel::<Event>();
    let mut fatal = None;

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, wake, stop, children) = (&queue, &wake, &stop, &children);
            let sweep = sweep.as_str();
            scope.spawn(move || loop {
                let Some(i) = next_run(queue, wake, stop) else {
                    return;
                };
                let run = &runs[i];
                let ev = match exec::claim(store, run, opts.retry) {
                    Err(e) => Event::Failed(e),
                    Ok(Claim::Final) => Event::Skipped,
                    Ok(Claim::Busy) => {
                        let dir = store.run_dir(&run.run_id);
                        if exec::held_by_orphan(&dir) {
                            // The worker of a killed launcher runs it: it takes this slot until
                            // it exits, so no more than `workers` runs execute at once.
                            while !stop.load(Ordering::SeqCst) && exec::is_locked(&dir) {
                                std::thread::sleep(BUSY_POLL);
                            }
                            queue.lock().unwrap().ready.push_front(i);
                        } else {
                            queue.lock().unwrap().busy.push(i);
                        }
                        continue;
                    }
                    Ok(Claim::Claimed(lock)) => {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        match execute(store, run, sweep, &lock, opts, threads, stop, children, i) {
                            Ok(s) => Event::Finished(s),
                            Err(e) => Event::Failed(e),
                        }
                    }
                };
                let failed = matches!(ev, Event::Failed(_));
                let _ = tx.send(ev);
                if failed {
                    return;
                }
            });
        }
        drop(tx);

        let mut killed_at: Option<Instant> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::Finished(s)) => {
                    summary.count(s);
                    bar.inc(1);
                    bar.set_message(bar_message(&summary));
                }
                Ok(Event::Skipped) => {
                    summary.skipped += 1;
                    bar.inc(1);
                }
                Ok(Event::Failed(e)) => {
                    if fatal.is_none() {
                        fatal = Some(e);
                    }
                    stop.store(true, Ordering::SeqCst);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if (cancelled() || fatal.is_some()) && !stop.swap(true, Ordering::SeqCst) {
                summary.cancelled = true;
            }
            if stop.load(Ordering::SeqCst) {
                wake.notify_all();
                let sig = match killed_at {
                    None => {
                        killed_at = Some(Instant::now());
                        Some(libc::SIGTERM)
                    }
                    Some(t) if t.elapsed() > KILL_GRACE => Some(libc::SIGKILL),
                    Some(_) => None,
                };
                if let Some(sig) = sig {
                    for &pid in children.lock().unwrap().values() {
                        // SAFETY: the pid is a child we have not reaped (see `execute`), so it
                        // names our worker's process group.
                        unsafe {
                            libc::kill(-pid, sig);
                        }
                    }
                }
            }
        }
    });
    bar.finish_and_clear();
    if let Some(e) = fatal {
        return Err(e);
    }
    summary.cancelled |= cancelled();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// The next run to try, waiting for busy runs to be released; `None` when all is done.
fn next_run(queue: &Mutex<Queue>, wake: &Condvar, stop: &AtomicBool) -> Option<usize> {
    let mut q = queue.lock().unwrap();
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(i) = q.ready.pop_front() {
            return Some(i);
        }
        if q.busy.is_empty() {
            return None;
        }
        q = wake.wait_timeout(q, BUSY_POLL).unwrap().0;
        let busy = std::mem::take(&mut q.busy);
        q.ready.extend(busy);
    }
}

#[allow(clippy::too_many_arguments)]
fn execute(
    store: &Store,
    run: &PlannedRun,
    sweep: &str,
    lock: &crate::store::RunLock,
    opts: &LocalOptions,
    threads: usize,
    stop: &AtomicBool,
    children: &Mutex<HashMap<usize, libc::pid_t>>,
    index: usize,
) -> Result<RunStatus, Error> {
    let mut started = {
        // Registering under the lock means the main thread never signals a pid we reaped.
        let mut c = children.lock().unwrap();
        let started = exec::start(store, run, sweep, lock, &opts.worker, threads)?;
        c.insert(index, started.child.id() as libc::pid_t);
        started
    };
    let pid = started.child.id() as libc::pid_t;
    // Wait without reaping, unregister, then reap: the pid stays valid while registered.
    loop {
        // SAFETY: waitid with WNOWAIT on our own child; the siginfo is ours to write.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    children.lock().unwrap().remove(&index);
    let status = started.child.wait().map_err(|source| Error::Worker {
        program: opts.worker.program.clone(),
        source,
    })?;
    exec::finish(
        store,
        run,
        sweep,
        &started,
        status,
        stop.load(Ordering::SeqCst),
    )
}

fn progress_bar(enabled: bool, len: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} runs [{elapsed_precise} eta {eta}] {msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

fn bar_message(s: &Summary) -> String {
    let failed = s.error + s.interrupted;
    format!("ok {} diverged {} failed {}", s.ok, s.diverged, failed)
}
