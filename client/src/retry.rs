//! The waiting schedule between attempts to reach the daemon again, on backon's exponential
//! backoff.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Exponential backoff: each delay doubles up to a ceiling, until the budget is spent.
#[derive(Debug)]
pub(crate) struct Backoff {
    builder: ExponentialBuilder,
    first: Duration,
    ceiling: Duration,
    delays: ExponentialBackoff,
    last: Option<Duration>,
}

impl Backoff {
    /// Three retries, half a second apart and growing: enough to ride out a short hiccup
    /// without making a person wait long for a real outage.
    pub(crate) fn for_submit() -> Self {
        let builder = ExponentialBuilder::new().with_max_times(3);
        Self::new(builder, Duration::from_millis(500), Duration::from_secs(2))
    }

    /// About two minutes of waiting in total, since a watcher would rather resume than give up
    /// while the daemon restarts or is moved to another node. Delays are jittered, so that the
    /// many watchers of a restarted daemon do not all come back at the same instant.
    pub(crate) fn for_follow() -> Self {
        let builder = ExponentialBuilder::new()
            .without_max_times()
            .with_total_delay(Some(Duration::from_secs(125)))
            .with_jitter();
        Self::new(builder, Duration::from_millis(250), Duration::from_secs(5))
    }

    fn new(builder: ExponentialBuilder, first: Duration, ceiling: Duration) -> Self {
        let builder = builder.with_max_delay(ceiling);
        Self {
            builder,
            first,
            ceiling,
            delays: builder.with_min_delay(first).build(),
            last: None,
        }
    }

    /// The wait before the next attempt, or `None` once the budget is spent.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        let delay = self.delays.next()?;
        self.last = Some(delay);
        Some(delay)
    }

    /// Starts over after a success, so a later outage gets the whole budget again.
    pub(crate) fn reset(&mut self) {
        self.delays = self.builder.with_min_delay(self.first).build();
        self.last = None;
    }

    /// Gives back the whole budget but keeps the delays as they have grown: the daemon was
    /// reached, so retrying should never give up, yet a connection that keeps breaking right
    /// after it opens is retried ever more slowly, up to the ceiling, not hammered.
    pub(crate) fn renew_budget(&mut self) {
        let grown = self.last.map_or(self.first, |last| {
            (last * 2).clamp(self.first, self.ceiling)
        });
        self.delays = self.builder.with_min_delay(grown).build();
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
        for _ in 0..20 {
            let waits = delays(Backoff::for_follow());
            let total: Duration = waits.iter().sum();
            // Jitter adds up to one delay again, at most one ceiling of 5s.
            assert!(
                total >= Duration::from_secs(115) && total <= Duration::from_secs(125),
                "{total:?}"
            );
            assert!(waits.iter().all(|d| *d <= Duration::from_secs(10)));
        }
    }

    #[test]
    fn a_renewed_budget_never_runs_out_and_keeps_the_grown_delay() {
        let mut backoff = Backoff::for_follow();
        for _ in 0..1000 {
            assert!(backoff.next_delay().is_some());
            backoff.renew_budget();
        }
        let delay = backoff.next_delay().unwrap();
        assert!(delay >= Duration::from_secs(5), "{delay:?}");
    }

    #[test]
    fn reset_restores_the_whole_budget() {
        let mut backoff = Backoff::for_submit();
        while backoff.next_delay().is_some() {}
        backoff.reset();
        assert_eq!(backoff.next_delay(), Some(Duration::from_millis(500)));
    }
}
