//! The event stream of one watch: resumed with backoff after every error (kube-runtime
//! re-lists after 410 Gone), and reported to operators when it keeps failing.

use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

/// Consecutive failures after which a watch's trouble is worth an operator's attention (a
/// missing RBAC permission, an unreachable API server), rather than a passing hiccup.
const WARN_AFTER: u32 = 5;

/// Events of a watch; errors are retried with kube-runtime's default backoff.
pub fn event_stream<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = Event<K>> + Send
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    let kind = K::kind(&()).into_owned();
    let mut failures = Failures::default();
    watcher::watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let event = match event {
                Ok(event) => {
                    if failures.recovered() {
                        tracing::info!(kind, "watch works again");
                    }
                    Some(event)
                }
                Err(error) if failures.failed() => {
                    let failures = failures.consecutive;
                    tracing::warn!(kind, failures, error = %error, "watch keeps failing; retrying");
                    None
                }
                Err(error) => {
                    tracing::debug!(kind, error = %error, "watch interrupted; resuming");
                    None
                }
            };
            std::future::ready(event)
        })
}

/// Consecutive failures of one watch, and when they deserve a warning: at the fifth, then at
/// each doubling (10, 20, 40, ...), so a lasting failure is told without flooding the log
/// (the backoff between attempts grows to 30 s).
#[derive(Debug, Default)]
struct Failures {
    consecutive: u32,
}

impl Failures {
    /// Counts a failure; true when a warning is due.
    fn failed(&mut self) -> bool {
        self.consecutive = self.consecutive.saturating_add(1);
        let count = self.consecutive;
        count.is_multiple_of(WARN_AFTER) && (count / WARN_AFTER).is_power_of_two()
    }

    /// Counts a success; true when it ends failures that were warned about.
    fn recovered(&mut self) -> bool {
        let warned = self.consecutive >= WARN_AFTER;
        self.consecutive = 0;
        warned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lasting_failure_is_warned_about_at_ever_longer_intervals() {
        let mut failures = Failures::default();
        let warned: Vec<u32> = (1..=100).filter(|_| failures.failed()).collect();
        assert_eq!(warned, [5, 10, 20, 40, 80]);
    }

    #[test]
    fn a_success_starts_the_count_again_and_says_whether_it_ends_a_warned_failure() {
        let mut failures = Failures::default();
        for _ in 0..4 {
            failures.failed();
        }
        assert!(!failures.recovered());
        for _ in 0..4 {
            assert!(!failures.failed());
        }
        assert!(failures.failed());
        assert!(failures.recovered());
    }
}
