//! How a run ended, recorded as run details before anything of it is deleted, so that a daemon
//! that dies while cleaning up still knows the outcome after its restart.

use std::collections::BTreeMap;

use byok8s_proto::v1::RunPhase;

use crate::backend::{EventSink, Outcome};

/// Run details holding the outcome; the phase is written last, so it marks a whole record.
const PHASE: &str = "outcome";
const REASON: &str = "outcome_reason";

const PHASES: [(RunPhase, &str); 4] = [
    (RunPhase::Succeeded, "succeeded"),
    (RunPhase::Failed, "failed"),
    (RunPhase::Cancelled, "cancelled"),
    (RunPhase::Interrupted, "interrupted"),
];

/// Records `outcome` with the run.
pub async fn record(sink: &EventSink, outcome: &Outcome) {
    let Some((_, name)) = PHASES.iter().find(|(phase, _)| *phase == outcome.phase) else {
        return;
    };
    sink.set_detail(REASON, &outcome.reason).await;
    sink.set_detail(PHASE, name).await;
}

/// The outcome recorded with a run, if any.
pub fn recorded(details: &BTreeMap<String, String>) -> Option<Outcome> {
    let name = details.get(PHASE)?;
    let (phase, _) = PHASES.iter().find(|(_, n)| n == name)?;
    let reason = details.get(REASON).cloned().unwrap_or_default();
    Some(Outcome::new(*phase, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_outcome_is_read_back_whole() {
        let details = BTreeMap::from([
            (PHASE.to_owned(), "cancelled".to_owned()),
            (REASON.to_owned(), "asked to".to_owned()),
        ]);
        assert_eq!(
            recorded(&details),
            Some(Outcome::new(RunPhase::Cancelled, "asked to"))
        );
    }

    #[test]
    fn without_its_phase_there_is_no_outcome() {
        let details = BTreeMap::from([(REASON.to_owned(), "half written".to_owned())]);
        assert_eq!(recorded(&details), None);
        let unknown = BTreeMap::from([(PHASE.to_owned(), "running".to_owned())]);
        assert_eq!(recorded(&unknown), None);
    }
}
