//! A watcher that resumes after sequence number N gets exactly the events after N.

use byok8s_tests::{Daemon, Events, Follower, Scratch, submit, watch};

#[test]
fn resuming_after_a_sequence_number_gives_exactly_the_later_events() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let run_id = submit(&daemon, &example, &["workflow-zeta", "params-red"]);

    // A watcher that drops out mid-run, as a lost connection would.
    let mut first = Follower::start(&daemon, &example, &run_id);
    let resume_after = first.wait_for("job_started")["seq"].as_u64().expect("seq");
    drop(first);

    let resumed = watch(&daemon, &example, &run_id, resume_after);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let full = watch(&daemon, &example, &run_id, 0);
    let (resumed, full) = (Events::of(&resumed), Events::of(&full));

    let full_seqs = full.seqs();
    let expected: Vec<u64> = (1..=full_seqs.len() as u64).collect();
    assert_eq!(
        full_seqs, expected,
        "sequence numbers run 1..=N without gaps"
    );
    assert_eq!(
        resumed.seqs(),
        expected[resume_after as usize..],
        "no gap and no duplicate"
    );
    assert_eq!(
        resumed.0,
        full.0[resume_after as usize..],
        "the same events, unchanged"
    );
}
