//! Signalling a container's process group: SIGTERM to the container's processes but not to
//! the bubblewrap monitor above them, SIGKILL to everything.

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Sends SIGTERM to every process of the group except its leader (the bwrap monitor, which
/// would otherwise die at once and take the sandbox with it before the container could shut
/// down gracefully).
pub fn terminate(group: i32) {
    for pid in members(group) {
        if pid != group {
            // A process may exit between listing and signalling; that is fine.
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
}

/// Sends SIGKILL to the whole group. Processes that left the group still die, because the
/// sandbox's PID namespace ends with its init process.
pub fn kill_group(group: i32) {
    let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
}

/// The pids whose process group is `group`, read from /proc.
pub fn members(group: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| process_group(*pid) == Some(group))
        .collect()
}

/// The process group of `pid`: the fifth field of /proc/PID/stat, after the command name.
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?;
    if state == "Z" {
        return None;
    }
    fields.nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_in_our_process_group() {
        let me = std::process::id() as i32;
        let group = nix::unistd::getpgrp().as_raw();
        assert_eq!(process_group(me), Some(group));
        assert!(members(group).contains(&me));
    }
}
