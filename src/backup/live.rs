//! Whether anything is using a home, before `restore --replace` swaps it: the live holders of its
//! run store's locks (workflow runs, the scheduler, the stack handler; a holder on another host
//! counts as alive, since it cannot be checked from here), and any other `systrade` process on
//! this machine whose home is this one (`--home`, else `SYSTRADE_HOME`, else the per-user
//! default), found in /proc.

use std::path::{Path, PathBuf};

use crate::adapters::store::sqlite_snapshot::lock_holders;
use crate::engine::process::{holder_is_dead, ProcessIdentity};
use crate::home::Home;

/// What is using the home.
#[derive(Debug, Default)]
pub struct HomeUsers {
    /// One line per live user: what it is, its pid and host.
    pub alive: Vec<String>,
    /// The store's locks could not be read (a damaged store): only the process scan answered.
    pub store_unreadable: Option<String>,
}

/// Finds the live users of `home`.
pub async fn home_users(home: &Home) -> HomeUsers {
    let mut users = HomeUsers::default();
    let me = ProcessIdentity::current();
    let db = home.db_path();
    if db.exists() {
        match lock_holders(&db).await {
            Ok(holders) => {
                for h in holders {
                    if holder_is_dead(&h, &me) {
                        continue;
                    }
                    let what = match (h.workflow.as_str(), h.run_id) {
                        ("__scheduler__", _) => "the scheduler".to_string(),
                        ("stack handler", _) => "the stack handler".to_string(),
                        (w, Some(run)) => format!("run {run} of workflow `{w}`"),
                        (w, None) => format!("workflow `{w}`"),
                    };
                    users.alive.push(format!(
                        "{what}: pid {} on {} since {}",
                        h.pid,
                        h.host,
                        h.acquired_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ));
                }
            }
            Err(e) => users.store_unreadable = Some(e),
        }
    }
    for (pid, line) in processes_of(&home.root) {
        if !users
            .alive
            .iter()
            .any(|a| a.contains(&format!("pid {pid} ")))
        {
            users
                .alive
                .push(format!("systrade process pid {pid}: {line}"));
        }
    }
    users
}

/// Other live `systrade` processes on this host whose home is `root`: (pid, command line).
fn processes_of(root: &Path) -> Vec<(i64, String)> {
    let target = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let me = std::process::id() as i64;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        if pid == me || !crate::engine::process::pid_alive(pid) {
            continue;
        }
        let dir = entry.path();
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_systrade = args
            .first()
            .and_then(|a| Path::new(a).file_name())
            .is_some_and(|n| n == "systrade");
        if !is_systrade {
            continue;
        }
        if process_home(&dir, &args).is_some_and(|h| h == target) {
            found.push((pid, args.join(" ")));
        }
    }
    found.sort();
    found
}

/// The home a systrade process uses, as it resolves it.
fn process_home(proc_dir: &Path, args: &[String]) -> Option<PathBuf> {
    let cwd = std::fs::read_link(proc_dir.join("cwd")).ok();
    let mut flag = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--home" {
            flag = it.next().cloned();
        } else if let Some(v) = a.strip_prefix("--home=") {
            flag = Some(v.to_string());
        } else if a == "--" {
            break;
        }
    }
    let env_home = || {
        let raw = std::fs::read(proc_dir.join("environ")).ok()?;
        raw.split(|b| *b == 0).find_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.strip_prefix("SYSTRADE_HOME=")
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        })
    };
    let chosen = flag.or_else(env_home);
    let path = match chosen {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                cwd?.join(p)
            }
        }
        None => Home::resolve(None, None).ok()?.root,
    };
    Some(path.canonicalize().unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_home_comes_from_its_flag() {
        let dir = tempfile::tempdir().unwrap();
        let me = PathBuf::from(format!("/proc/{}", std::process::id()));
        let args: Vec<String> = [
            "systrade",
            "--home",
            &dir.path().display().to_string(),
            "run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            process_home(&me, &args),
            Some(dir.path().canonicalize().unwrap())
        );
        let args: Vec<String> = vec![
            "systrade".into(),
            format!("--home={}", dir.path().display()),
        ];
        assert_eq!(
            process_home(&me, &args),
            Some(dir.path().canonicalize().unwrap())
        );
        // Nothing in this test process is named systrade.
        assert!(processes_of(dir.path()).is_empty());
    }
}
