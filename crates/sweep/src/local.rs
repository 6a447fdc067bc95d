//! The local launcher: a pool of worker processes on this machine.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget};
use stab_spec::RunStatus;
use stab_store::{held_by_orphan, is_locked, PlannedRun, RunLock, Store};

use crate::exec::{self, Claim, WorkerCommand};
use crate::launcher::{settings, Launch, Launched, Launcher, QueueSummary, SettingsError};
use crate::Error;

/// The local launcher ([`run_local`] behind the [`Launcher`] interface): settings from the
/// sweep file's `[local]` table ([`LocalSettings`]); it keeps no queue (its running runs show
/// through their locks).
pub struct Local;

/// The settings of the local launcher: the sweep file's `[local]` table, flags on top.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// Worker processes at once (default: cores / threads per run).
    pub workers: Option<usize>,
    /// GPUs to pin workers to: `all` or a list like `0,1` ([`crate::parse_gpus`]).
    pub gpus: Option<String>,
    /// Runs sharing each GPU at once (needs `gpus`).
    pub runs_per_gpu: Option<usize>,
}

impl Launcher for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn check_settings(&self, table: &toml::Table) -> Result<(), SettingsError> {
        settings::<LocalSettings>(table).map(|_| ())
    }

    fn launch(
        &self,
        store: &Store,
        runs: &[PlannedRun],
        launch: &Launch,
    ) -> Result<Launched, Error> {
        let s = settings::<LocalSettings>(&launch.settings).map_err(|e| Error::Settings {
            launcher: self.name(),
            error: e,
        })?;
        let mut o = LocalOptions::new(launch.worker.clone());
        o.workers = s.workers;
        o.threads = launch.threads;
        o.retry = launch.retry;
        o.progress = launch.progress;
        if let Some(g) = &s.gpus {
            o.gpus = crate::parse_gpus(g)?;
            o.runs_per_gpu = s.runs_per_gpu.unwrap_or(1);
            let (workers, _) = o.resolve_budget(runs);
            if launch.progress {
                eprintln!(
                    "stab sweep: {} workers on GPUs {} (at most {} runs per GPU)",
                    o.gpu_slots(workers).len(),
                    o.gpus.join(","),
                    o.runs_per_gpu
                );
            }
        } else if s.runs_per_gpu.is_some() {
            return Err(Error::Settings {
                launcher: self.name(),
                error: SettingsError {
                    field: "runs_per_gpu".into(),
                    message: "needs gpus (which GPUs to share)".into(),
                },
            });
        }
        run_local(store, runs, &o).map(Launched::Ran)
    }

    fn queue(&self, _store: &Store) -> Result<Option<QueueSummary>, Error> {
        Ok(None)
    }
}

/// How long a stopped worker gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);
/// How often runs locked by another launcher are looked at again.
const BUSY_POLL: Duration = Duration::from_millis(100);

/// Options of [`run_local`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Worker processes at once; `None`: `cores / threads` (at least 1).
    pub workers: Option<usize>,
    /// Thread budget of each worker, for sizing the pool (`--threads`); `None`: the largest
    /// `threads` of the runs. Each worker runs with its own run's `threads`.
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
    /// GPUs to pin workers to, as `CUDA_VISIBLE_DEVICES` values (`"0"`, `"1"`, or UUIDs);
    /// empty: workers are not pinned. See [`GpuSlots`].
    pub gpus: Vec<String>,
    /// Runs sharing each GPU at once (with `gpus`); the pool then has `gpus × runs_per_gpu`
    /// workers unless `workers` says fewer.
    pub runs_per_gpu: usize,
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
            gpus: Vec::new(),
            runs_per_gpu: 1,
        }
    }

    /// The (workers, threads) this machine gets for `runs`.
    pub fn resolve_budget(&self, runs: &[PlannedRun]) -> (usize, usize) {
        let threads = self
            .threads
            .unwrap_or_else(|| runs.iter().map(|r| r.spec.threads).max().unwrap_or(1))
            .max(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let default = if self.gpus.is_empty() {
            cores / threads
        } else {
            self.gpus.len() * self.runs_per_gpu.max(1)
        };
        let workers = self.workers.unwrap_or(default).max(1);
        (workers, threads)
    }

    /// Which GPU each worker slot is pinned to.
    pub fn gpu_slots(&self, workers: usize) -> GpuSlots {
        GpuSlots::new(&self.gpus, self.runs_per_gpu, workers)
    }
}

/// The GPU of each worker slot: slot `w` runs all its runs, one after another, on
/// `gpus[w % gpus.len()]`, so at most `ceil(workers / gpus)` ≤ `runs_per_gpu` runs share a
/// GPU at any moment (never oversubscribed), and fewer workers than slots spread evenly.
///
/// Pinning is by `CUDA_VISIBLE_DEVICES` in the worker's environment: the run sees one device,
/// `cuda:0`, and its record keeps the variable's value (`versions.gpu`).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSlots(Vec<Option<String>>);

impl GpuSlots {
    pub fn new(gpus: &[String], runs_per_gpu: usize, workers: usize) -> GpuSlots {
        if gpus.is_empty() {
            return GpuSlots(vec![None; workers]);
        }
        let workers = workers.min(gpus.len() * runs_per_gpu.max(1));
        GpuSlots(
            (0..workers)
                .map(|w| Some(gpus[w % gpus.len()].clone()))
                .collect(),
        )
    }

    /// Worker slots (may be fewer than asked for: never more than GPUs × runs per GPU).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn gpu(&self, slot: usize) -> Option<&str> {
        self.0[slot].as_deref()
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
    /// Stopped by the spec's `early_failure` policy as predicted failures.
    pub stopped: usize,
    /// Stopped by a signal or the cancel flag; some runs were not started.
    pub cancelled: bool,
    pub elapsed: Duration,
}

impl Summary {
    /// Runs this launch executed.
    pub fn ran(&self) -> usize {
        self.ok + self.diverged + self.error + self.interrupted + self.stopped
    }

    fn count(&mut self, s: RunStatus) {
        match s {
            RunStatus::Ok => self.ok += 1,
            RunStatus::Diverged => self.diverged += 1,
            RunStatus::Error => self.error += 1,
            RunStatus::Interrupted => self.interrupted += 1,
            RunStatus::Stopped => self.stopped += 1,
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
        if self.stopped > 0 {
            write!(f, "; {} stopped as predicted failures", self.stopped)?;
        }
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
    let (workers, _) = opts.resolve_budget(runs);
    let slots = opts.gpu_slots(workers);
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
    let todo = first_queue(store, runs, opts.retry, &mut summary);
    let bar = progress_bar(opts.progress, todo.len());
    let pool = Pool {
        store,
        runs,
        opts,
        sweep,
        queue: Mutex::new(Queue {
            ready: todo,
            busy: Vec::new(),
        }),
        wake: Condvar::new(),
        stop: AtomicBool::new(false),
        children: Mutex::new(HashMap::new()),
    };
    let (tx, rx) = mpsc::channel::<Event>();
    let fatal = std::thread::scope(|scope| {
        for slot in 0..slots.len() {
            let tx = tx.clone();
            let gpu = slots.gpu(slot);
            let pool = &pool;
            scope.spawn(move || pool.work(gpu, &tx));
        }
        drop(tx);
        pool.supervise(&rx, &mut summary, &bar, &cancelled)
    });
    bar.finish_and_clear();
    if let Some(e) = fatal {
        return Err(e);
    }
    summary.cancelled |= cancelled();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// The indices of the runs to try, counting the final ones as skipped in `summary`. Runs held
/// by the workers of a killed launcher go first: waiting for them fills worker slots.
fn first_queue(
    store: &Store,
    runs: &[PlannedRun],
    retry: bool,
    summary: &mut Summary,
) -> VecDeque<usize> {
    let mut todo = VecDeque::new();
    for (i, run) in runs.iter().enumerate() {
        if store.state_unlocked(&run.run_id).is_final(retry) {
            summary.skipped += 1;
        } else if held_by_orphan(&store.run(&run.run_id)) {
            todo.push_front(i);
        } else {
            todo.push_back(i);
        }
    }
    todo
}

/// What the worker slots of one launch share.
struct Pool<'a> {
    store: &'a Store,
    runs: &'a [PlannedRun],
    opts: &'a LocalOptions,
    sweep: String,
    queue: Mutex<Queue>,
    wake: Condvar,
    stop: AtomicBool,
    /// Run index → pid of its worker, while the worker has not been reaped.
    children: Mutex<HashMap<usize, libc::pid_t>>,
}

impl Pool<'_> {
    /// One worker slot: takes runs off the queue and executes them, one at a time, until none
    /// is left, the launch stops, or the launcher itself fails.
    fn work(&self, gpu: Option<&str>, tx: &mpsc::Sender<Event>) {
        while let Some(i) = next_run(&self.queue, &self.wake, &self.stop) {
            let run = &self.runs[i];
            let ev = match exec::claim(self.store, run, self.opts.retry) {
                Err(e) => Event::Failed(e),
                Ok(Claim::Final) => Event::Skipped,
                Ok(Claim::Busy) => {
                    self.busy(i);
                    continue;
                }
                Ok(Claim::Claimed(lock)) => {
                    if self.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    // The run's own thread count: it is part of its spec and id (a `threads`
                    // axis gives runs different ones); the budget only sizes the pool.
                    let worker = Worker {
                        threads: run.spec.threads,
                        gpu,
                        index: i,
                    };
                    match self.execute(run, &lock, &worker) {
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
        }
    }

    /// Run `i` is locked by somebody else. The worker of a killed launcher runs it: it takes
    /// this slot until it exits, so no more than `workers` runs execute at once. Any other
    /// holder's run is looked at again later.
    fn busy(&self, i: usize) {
        let dir = self.store.run(&self.runs[i].run_id);
        if held_by_orphan(&dir) {
            while !self.stop.load(Ordering::SeqCst) && is_locked(&dir) {
                std::thread::sleep(BUSY_POLL);
            }
            self.queue.lock().unwrap().ready.push_front(i);
        } else {
            self.queue.lock().unwrap().busy.push(i);
        }
    }

    /// Collects the slots' events into `summary` until every slot has ended. On a signal or a
    /// launcher failure, stops the pool and its workers. Returns the first launcher failure.
    fn supervise(
        &self,
        rx: &mpsc::Receiver<Event>,
        summary: &mut Summary,
        bar: &ProgressBar,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Error> {
        let mut fatal = None;
        let mut killed_at: Option<Instant> = None;
        let mut log = crate::progress_log::ProgressLog::new(self.opts.progress, &self.sweep);
        let running = || self.children.lock().unwrap().len();
        loop {
            let event = rx.recv_timeout(Duration::from_millis(50));
            if let Some(log) = &mut log {
                log.tick(summary, running(), false);
            }
            match event {
                Ok(Event::Finished(s)) => {
                    summary.count(s);
                    bar.inc(1);
                    bar.set_message(bar_message(summary));
                    if let Some(log) = &mut log {
                        log.tick(summary, running(), true);
                    }
                }
                Ok(Event::Skipped) => {
                    summary.skipped += 1;
                    bar.inc(1);
                }
                Ok(Event::Failed(e)) => {
                    if fatal.is_none() {
                        fatal = Some(e);
                    }
                    self.stop.store(true, Ordering::SeqCst);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return fatal,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if (cancelled() || fatal.is_some()) && !self.stop.swap(true, Ordering::SeqCst) {
                summary.cancelled = true;
            }
            if self.stop.load(Ordering::SeqCst) {
                self.wake.notify_all();
                self.stop_workers(&mut killed_at);
            }
        }
    }

    /// Signals the process group of every running worker: SIGTERM the first time (noted in
    /// `killed_at`), SIGKILL once [`KILL_GRACE`] has passed since.
    fn stop_workers(&self, killed_at: &mut Option<Instant>) {
        let sig = match killed_at {
            None => {
                *killed_at = Some(Instant::now());
                libc::SIGTERM
            }
            Some(t) if t.elapsed() > KILL_GRACE => libc::SIGKILL,
            Some(_) => return,
        };
        for &pid in self.children.lock().unwrap().values() {
            // SAFETY: the pid is a child we have not reaped (see `execute`), so it names our
            // worker's process group.
            unsafe {
                libc::kill(-pid, sig);
            }
        }
    }

    /// Runs one claimed run's worker to its end and makes sure the run has a record.
    fn execute(
        &self,
        run: &PlannedRun,
        lock: &RunLock,
        worker: &Worker<'_>,
    ) -> Result<RunStatus, Error> {
        let index = worker.index;
        let sweep = self.sweep.as_str();
        let mut started = {
            // Registering under the lock means the main thread never signals a pid we reaped.
            let mut c = self.children.lock().unwrap();
            let started = exec::start(
                self.store,
                run,
                sweep,
                lock,
                &self.opts.worker,
                worker.threads,
                worker.gpu,
            )?;
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
            if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                break;
            }
        }
        self.children.lock().unwrap().remove(&index);
        let status = started.child.wait().map_err(|source| Error::Worker {
            program: self.opts.worker.program.clone(),
            source,
        })?;
        let interrupted = self.stop.load(Ordering::SeqCst);
        exec::finish(self.store, run, sweep, &started, status, interrupted)
    }
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

/// One worker slot's execution of one run: its thread budget, its GPU and the run's index.
struct Worker<'a> {
    threads: usize,
    gpu: Option<&'a str>,
    index: usize,
}

fn progress_bar(enabled: bool, len: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(stab_spec::progress_style(
        "{bar:30} {pos}/{len} runs [{elapsed_precise} eta {eta}] {msg}",
    ));
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

fn bar_message(s: &Summary) -> String {
    let failed = s.error + s.interrupted;
    format!("ok {} diverged {} failed {}", s.ok, s.diverged, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpus(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn k_runs_per_gpu_fill_every_gpu_evenly() {
        let slots = GpuSlots::new(&gpus(2), 4, 8);
        assert_eq!(slots.len(), 8);
        let on = |g: &str| (0..8).filter(|&w| slots.gpu(w) == Some(g)).count();
        assert_eq!((on("0"), on("1")), (4, 4));
    }

    #[test]
    fn never_more_workers_than_gpus_times_k() {
        let slots = GpuSlots::new(&gpus(2), 2, 16);
        assert_eq!(slots.len(), 4, "at most 2 runs on each of 2 GPUs");
        // Fewer workers than slots: spread, not stacked on GPU 0.
        let slots = GpuSlots::new(&gpus(4), 8, 4);
        let used: Vec<_> = (0..4).map(|w| slots.gpu(w).unwrap()).collect();
        assert_eq!(used, ["0", "1", "2", "3"]);
    }

    #[test]
    fn without_gpus_workers_are_not_pinned() {
        let slots = GpuSlots::new(&[], 4, 3);
        assert_eq!(slots.len(), 3);
        assert!((0..3).all(|w| slots.gpu(w).is_none()));
    }

    #[test]
    fn budget_defaults_to_gpus_times_k() {
        let mut o = LocalOptions::new(WorkerCommand::new("stab"));
        o.gpus = gpus(2);
        o.runs_per_gpu = 3;
        o.threads = Some(1);
        assert_eq!(o.resolve_budget(&[]), (6, 1));
        o.workers = Some(2);
        assert_eq!(o.resolve_budget(&[]), (2, 1));
    }
}
