//! Run locks: whoever executes a run holds an exclusive `flock` on `runs/<id>/lock`; a worker
//! inherits the descriptor from its launcher, so a run stays locked for as long as its worker
//! lives, even when the launcher is killed. The lock file names the launcher that took it
//! (pid, start time, host), so that a restarted launcher can tell orphaned workers from those
//! of a live launcher.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use stab_spec::hostname;

use crate::store::{io_err, RunDir};
use crate::Error;

/// The environment variable in which a launcher names, to its worker, the descriptor of the
/// run's lock that the worker inherited ((stab-sweep's `exec`)). With it, the worker's
/// [`lock_run_dir`] knows the run is already locked on its behalf.
pub const LOCK_FD_ENV: &str = "STAB_RUN_LOCK_FD";

/// How `stab run --out DIR` holds the lock of the run it executes.
#[derive(Debug)]
pub enum HeldLock {
    /// A launcher took the lock and this process inherited it ([`LOCK_FD_ENV`]).
    Inherited,
    /// This process took it; released on drop.
    Own(RunLock),
}

/// Locks the run in `dir` for `stab run --out DIR`, under the same rule as sweeps: whoever
/// executes a run holds its lock. A launcher's worker already holds it: `inherited_fd` is the
/// value of [`LOCK_FD_ENV`], and the descriptor is checked to be `dir`'s lock file, not
/// trusted blindly. Anyone else takes the lock here, and a run that another process is
/// executing is refused with [`Error::Busy`], since two processes in one directory would each
/// overwrite the other's `record.json`.
pub fn lock_run_dir(dir: &Path, inherited_fd: Option<&str>) -> Result<HeldLock, Error> {
    let lock_path = RunDir::new(dir).lock();
    if let Some(fd) = inherited_fd.and_then(|v| v.trim().parse::<u32>().ok()) {
        if same_file(Path::new(&format!("/proc/self/fd/{fd}")), &lock_path) {
            return Ok(HeldLock::Inherited);
        }
    }
    match RunLock::try_acquire(dir).map_err(io_err(&lock_path))? {
        Some(lock) => Ok(HeldLock::Own(lock)),
        None => Err(Error::Busy {
            path: dir.to_path_buf(),
        }),
    }
}

/// Whether two paths name the same file (device and inode; symbolic links followed).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// An exclusive `flock` on [`RunDir::lock`], released when dropped (or when the last process
/// holding the descriptor exits: the worker inherits it, so a run stays locked while its worker
/// lives even if the launcher is killed).
#[derive(Debug)]
pub struct RunLock {
    file: File,
}

impl RunLock {
    /// Takes the lock of the run in `dir` if nobody holds it; `Ok(None)` if somebody does.
    pub fn try_acquire(dir: &Path) -> io::Result<Option<RunLock>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(RunDir::new(dir).lock())?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// The open lock file: a launcher passes its descriptor on to the worker.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Writes who holds the lock into the lock file (`pid <pid> start <ticks> host <name>`): the
    /// launcher, whose worker inherits the lock. Read back by [`held_by_orphan`].
    pub fn write_owner(&self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let pid = std::process::id();
        let start = process_start(pid).unwrap_or(0);
        let line = format!("pid {pid} start {start} host {}\n", hostname());
        self.file.set_len(0)?;
        self.file.write_all_at(line.as_bytes(), 0)
    }
}

/// Whether the run in `dir` is locked by the worker of a launcher on this machine that no
/// longer exists (SIGKILLed): an orphan that will finish the run on its own. A relaunched
/// launcher counts such workers against its own budget instead of starting new ones beside
/// them. Locks of live launchers, of other machines, or without owner information are not
/// orphans.
pub fn held_by_orphan(dir: &RunDir) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.lock()) else {
        return false;
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let (Some(pid), Some(start), Some(host)) = (
        field(&words, "pid").and_then(|p| p.parse::<u32>().ok()),
        field(&words, "start").and_then(|s| s.parse::<u64>().ok()),
        field(&words, "host"),
    ) else {
        return false;
    };
    // A pid that is gone, or that now names a process started at another time (reused).
    let launcher_gone = host == hostname() && process_start(pid) != Some(start);
    launcher_gone && is_locked(dir)
}

fn field<'a>(words: &[&'a str], name: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| *w == name)
        .and_then(|i| words.get(i + 1).copied())
}

/// Whether somebody holds the run's lock right now.
pub fn is_locked(dir: &RunDir) -> bool {
    matches!(RunLock::try_acquire(dir.path()), Ok(None))
}

/// Start time of process `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22), which
/// with the pid identifies a process even when pids are reused.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_dir_is_locked_once_unless_the_lock_was_inherited() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_run_dir(dir.path(), None).unwrap();
        assert!(matches!(held, HeldLock::Own(_)));
        // A second executor of the same directory is refused, naming it.
        let e = lock_run_dir(dir.path(), None).unwrap_err();
        assert!(matches!(e, Error::Busy { .. }), "{e}");
        assert!(e
            .to_string()
            .contains("another process is executing this run"));
        drop(held);
        assert!(matches!(
            lock_run_dir(dir.path(), None).unwrap(),
            HeldLock::Own(_)
        ));
    }

    #[test]
    fn the_inherited_descriptor_must_be_this_runs_lock() {
        use std::os::fd::AsRawFd;
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let lock = RunLock::try_acquire(a.path()).unwrap().unwrap();
        let fd = lock.file().as_raw_fd().to_string();
        let inherited = lock_run_dir(a.path(), Some(&fd)).unwrap();
        assert!(matches!(inherited, HeldLock::Inherited));
        // The descriptor is another directory's lock: b is locked the normal way.
        let other = lock_run_dir(b.path(), Some(&fd)).unwrap();
        assert!(matches!(other, HeldLock::Own(_)));
        // A descriptor that is not open at all is no excuse either.
        let e = lock_run_dir(a.path(), Some("987654")).unwrap_err();
        assert!(matches!(e, Error::Busy { .. }), "{e}");
    }

    #[test]
    fn lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunLock::try_acquire(dir.path()).unwrap().unwrap();
        assert!(RunLock::try_acquire(dir.path()).unwrap().is_none());
        drop(a);
        assert!(RunLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
