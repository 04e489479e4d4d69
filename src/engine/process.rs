//! Facts about OS processes used by the single-instance locks: this process's identity
//! (PID, start time, host, boot id) and whether a lock holder is still alive.

use super::store::LockHolder;

/// Identity of the current process, recorded in locks.
#[derive(Debug, Clone)]
pub struct ProcessIdentity {
    pub pid: i64,
    pub pid_start: Option<i64>,
    pub host: String,
    pub boot_id: Option<String>,
}

impl ProcessIdentity {
    pub fn current() -> Self {
        let pid = std::process::id() as i64;
        Self {
            pid,
            pid_start: process_start_ticks(pid),
            host: host_name(),
            boot_id: boot_id(),
        }
    }
}

pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The kernel's boot id: changes at every reboot, so every lock from before a reboot is dead.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn process_start_ticks(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a PID exists (a zombie counts as dead).
pub fn pid_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i32::MAX as i64 {
        return false;
    }
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        return state != Some("Z");
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid as i32, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether a lock holder on this host is certainly gone. Holders on other hosts are never
/// declared dead from here.
pub fn holder_is_dead(holder: &LockHolder, me: &ProcessIdentity) -> bool {
    if holder.host != me.host {
        return false;
    }
    if let (Some(theirs), Some(ours)) = (&holder.boot_id, &me.boot_id) {
        if theirs != ours {
            return true;
        }
    }
    if !pid_alive(holder.pid) {
        return true;
    }
    match (holder.pid_start, process_start_ticks(holder.pid)) {
        (Some(recorded), Some(actual)) => recorded != actual,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive_and_identified() {
        let me = ProcessIdentity::current();
        assert!(pid_alive(me.pid));
        let holder = LockHolder {
            workflow: "w".into(),
            run_id: None,
            pid: me.pid,
            pid_start: me.pid_start,
            host: me.host.clone(),
            boot_id: me.boot_id.clone(),
            acquired_at: chrono::Utc::now(),
        };
        assert!(!holder_is_dead(&holder, &me));
        let reused = LockHolder {
            pid_start: me.pid_start.map(|s| s + 1),
            ..holder.clone()
        };
        assert_eq!(holder_is_dead(&reused, &me), me.pid_start.is_some());
        let other_host = LockHolder {
            host: "elsewhere".into(),
            pid: 999_999_999,
            ..holder
        };
        assert!(!holder_is_dead(&other_host, &me));
        assert!(!pid_alive(999_999_999));
    }
}
