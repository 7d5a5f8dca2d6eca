//! The waiting schedule between attempts to reach the server again.

use std::time::Duration;

/// What ends the retrying.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// At most this many retries.
    Attempts(u32),
    /// At most this much time spent waiting.
    Waiting(Duration),
}

/// Exponential backoff: each delay doubles up to a ceiling, until the budget is spent.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    ceiling: Duration,
    budget: Budget,
    next: Duration,
    attempts: u32,
    waited: Duration,
}

impl Backoff {
    /// Three retries, half a second apart and growing: enough to ride out a daemon restart
    /// without making a person wait long for a real outage.
    pub(crate) fn for_submit() -> Self {
        Self::new(
            Duration::from_millis(500),
            Duration::from_secs(2),
            Budget::Attempts(3),
        )
    }

    /// About two minutes of waiting in total, since a watcher would rather resume than give up
    /// while the daemon restarts or is moved to another node.
    pub(crate) fn for_follow() -> Self {
        let budget = Budget::Waiting(Duration::from_secs(120));
        Self::new(Duration::from_millis(250), Duration::from_secs(5), budget)
    }

    fn new(first: Duration, ceiling: Duration, budget: Budget) -> Self {
        Self {
            first,
            ceiling,
            budget,
            next: first,
            attempts: 0,
            waited: Duration::ZERO,
        }
    }

    /// The wait before the next attempt, or `None` once the budget is spent.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        let delay = self.next;
        let allowed = match self.budget {
            Budget::Attempts(max) => self.attempts < max,
            Budget::Waiting(max) => self.waited < max,
        };
        if !allowed {
            return None;
        }
        self.attempts += 1;
        self.waited += delay;
        self.next = (delay * 2).min(self.ceiling);
        Some(delay)
    }

    /// Starts over after a success, so a later outage gets the whole budget again.
    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.first, self.ceiling, self.budget);
    }

    /// Gives back the whole budget but keeps the delays as they have grown: the server was
    /// reached, so retrying should never give up, yet a connection that keeps breaking right
    /// after it opens is retried ever more slowly, up to the ceiling, not hammered.
    pub(crate) fn renew_budget(&mut self) {
        self.attempts = 0;
        self.waited = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(mut backoff: Backoff) -> Vec<Duration> {
        std::iter::from_fn(|| backoff.next_delay()).collect()
    }

    #[test]
    fn submit_retries_three_times_with_growing_delays() {
        let millis: Vec<_> = delays(Backoff::for_submit())
            .iter()
            .map(Duration::as_millis)
            .collect();
        assert_eq!(millis, [500, 1000, 2000]);
    }

    #[test]
    fn follow_waits_about_two_minutes_in_total() {
        let total: Duration = delays(Backoff::for_follow()).iter().sum();
        assert!(
            total >= Duration::from_secs(120) && total <= Duration::from_secs(125),
            "{total:?}"
        );
        assert!(
            delays(Backoff::for_follow())
                .iter()
                .all(|d| *d <= Duration::from_secs(5))
        );
    }

    #[test]
    fn a_renewed_budget_never_runs_out_and_keeps_the_grown_delay() {
        let mut backoff = Backoff::for_follow();
        for _ in 0..1000 {
            assert!(backoff.next_delay().is_some());
            backoff.renew_budget();
        }
        assert_eq!(backoff.next_delay(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn reset_restores_the_whole_budget() {
        let mut backoff = Backoff::for_submit();
        while backoff.next_delay().is_some() {}
        backoff.reset();
        assert_eq!(backoff.next_delay(), Some(Duration::from_millis(500)));
    }
}
