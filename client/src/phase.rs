//! What the client needs to know about run phases: their names and which ones are final.

use byok8s_proto::v1::RunPhase;

/// The lowercase name of a phase as carried on the wire (`queued`, `failed`, ...).
///
/// Values this client does not know yet are named `unknown` rather than rejected, since the
/// contract allows the server to add phases.
pub fn phase_name(phase: i32) -> &'static str {
    match RunPhase::try_from(phase) {
        Ok(RunPhase::Unspecified) => "unspecified",
        Ok(RunPhase::Queued) => "queued",
        Ok(RunPhase::Running) => "running",
        Ok(RunPhase::Succeeded) => "succeeded",
        Ok(RunPhase::Failed) => "failed",
        Ok(RunPhase::Cancelled) => "cancelled",
        Ok(RunPhase::Interrupted) => "interrupted",
        Err(_) => "unknown",
    }
}

/// True for the phases a run never leaves: succeeded, failed, cancelled and interrupted.
pub fn is_terminal(phase: i32) -> bool {
    matches!(
        RunPhase::try_from(phase),
        Ok(RunPhase::Succeeded | RunPhase::Failed | RunPhase::Cancelled | RunPhase::Interrupted)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finished_phases_are_terminal() {
        let terminal: Vec<_> = (0..8).filter(|p| is_terminal(*p)).map(phase_name).collect();
        assert_eq!(
            terminal,
            ["succeeded", "failed", "cancelled", "interrupted"]
        );
    }

    #[test]
    fn phases_unknown_to_this_client_are_named_unknown() {
        assert_eq!(phase_name(42), "unknown");
        assert!(!is_terminal(42));
    }
}
