"""Unit tests for the byok8s Snakemake logger plugin, fed with records shaped like Snakemake 9.27's.

Run from this directory with ``python -m unittest test_logger_plugin``.
"""

import io
import json
import logging
import logging.handlers
import queue
import unittest

from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import OutputSettingsLoggerInterface

from snakemake_logger_plugin_byok8s import PREFIX, LogHandler


class _Settings(OutputSettingsLoggerInterface):
    """Output settings as Snakemake passes them to a plugin handler."""

    def __init__(self, quiet=None):
        self.printshellcmds = False
        self.nocolor = True
        self.quiet = quiet
        self.debug_dag = False
        self.verbose = False
        self.show_failed_logs = False
        self.stdout = False
        self.dryrun = False


def _record(msg, level=logging.INFO, **extra):
    """Build a record the way ``logger.info(msg, extra=...)`` does."""
    record = logging.LogRecord(
        name="snakemake.logging",
        level=level,
        pathname="job_scheduler.py",
        lineno=1,
        msg=msg,
        args=(),
        exc_info=None,
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _job_info(jobid, rule, output, wildcards=None, local=True):
    return _record(
        f" Rule: {rule}, Jobid: {jobid}",
        event=LogEvent.JOB_INFO,
        jobid=jobid,
        rule_msg=None,
        rule_name=rule,
        local=local,
        input=[],
        output=output,
        log=[],
        benchmark=None,
        wildcards=wildcards or {},
        reason="Missing output files",
        resources={"tmpdir": "/tmp", "api_token": "do-not-print"},
        priority=0,
        threads=1,
        indent=False,
        is_checkpoint=False,
        printshellcmd=True,
        is_handover=False,
        shellcmd="echo secret-value > out.txt",
    )


def _job_started(*jobids):
    return _record(
        f"Execute {len(jobids)} jobs...",
        event=LogEvent.JOB_STARTED,
        jobs=list(jobids),
    )


def _job_finished(jobid, rule):
    return _record(
        f"Finished jobid: {jobid} (Rule: {rule})",
        event=LogEvent.JOB_FINISHED,
        job_id=jobid,
    )


def _progress(done, total):
    return _record(None, event=LogEvent.PROGRESS, done=done, total=total)


def _job_error(jobid, rule):
    return _record(
        f"Error in rule {rule}, jobid: {jobid}",
        level=logging.ERROR,
        rule_name=rule,
        rule_msg=None,
        jobid=jobid,
        input=[],
        output=["doomed.txt"],
        log=[],
        conda_env=None,
        container_img=None,
        aux={},
        indent=False,
        shellcmd="echo secret-value; exit 3",
        event=LogEvent.JOB_ERROR,
    )


def _error(text, exception="WorkflowError"):
    return _record(
        text, level=logging.ERROR, event=LogEvent.ERROR, exception=exception
    )


class LoggerPluginTest(unittest.TestCase):
    def setUp(self):
        self.handler = LogHandler(_Settings(), None)
        self.out = io.StringIO()
        self.handler.stream = self.out

    def feed(self, *records):
        for record in records:
            self.handler.emit(record)

    def lines(self):
        return self.out.getvalue().splitlines()

    def events(self):
        result = []
        for line in self.lines():
            self.assertTrue(line.startswith(PREFIX + " "), line)
            result.append(json.loads(line[len(PREFIX) + 1 :]))
        return result

    def test_run_info_reports_total_and_counts_per_rule(self):
        self.feed(
            _record(
                "Job stats: ...",
                event=LogEvent.RUN_INFO,
                stats={"zeta_a1": 1, "part": 12, "total": 13},
            )
        )
        self.assertEqual(
            self.events(),
            [
                {
                    "event": "run_info",
                    "total": 13,
                    "per_rule": {"zeta_a1": 1, "part": 12},
                }
            ],
        )

    def test_job_started_waits_for_job_info_and_names_the_rule(self):
        self.feed(_job_started(3))
        self.assertEqual(self.events(), [])
        self.feed(_job_info(3, "zeta_a1", ["zetaA1.txt"]))
        self.assertEqual(
            self.events(),
            [
                {
                    "event": "job_started",
                    "jobid": 3,
                    "rule": "zeta_a1",
                    "outputs": ["zetaA1.txt"],
                    "wildcards": {},
                    "local": True,
                }
            ],
        )

    def test_job_started_says_whether_the_job_runs_in_snakemakes_own_process(self):
        self.feed(_job_started(3), _job_info(3, "remote", ["r.txt"], local=False))
        self.feed(_job_started(4), _job_info(4, "here", ["h.txt"], local=True))
        self.assertEqual([e["local"] for e in self.events()], [False, True])

    def test_job_finished_carries_the_rule_learned_from_job_info(self):
        self.feed(
            _job_started(3, 5),
            _job_info(5, "zeta_b1", ["zetaB1.txt"]),
            _job_info(3, "zeta_a1", ["zetaA1.txt"]),
            _job_finished(3, "zeta_a1"),
            _progress(1, 6),
        )
        events = self.events()
        self.assertEqual([e["event"] for e in events][-2:], ["job_finished", "progress"])
        self.assertEqual(events[-2], {"event": "job_finished", "jobid": 3, "rule": "zeta_a1"})
        self.assertEqual(events[-1], {"event": "progress", "done": 1, "total": 6})

    def test_wildcards_are_reported_as_strings(self):
        self.feed(_job_started(7), _job_info(7, "part", ["parts/4.txt"], {"i": 4}))
        self.assertEqual(self.events()[0]["wildcards"], {"i": "4"})

    def test_a_job_with_thousands_of_outputs_still_fits_one_readable_line(self):
        outputs = ["results/sample-%05d/aligned.bam" % i for i in range(20000)]
        wildcards = {"w%d" % i: "x" * 100 for i in range(2000)}
        self.feed(_job_started(9), _job_info(9, "align", outputs, wildcards))
        (line,) = self.lines()
        # One write to a pipe of at most PIPE_BUF bytes, newline included, is atomic.
        self.assertLessEqual(len(line) + 1, 4096)
        (event,) = self.events()
        self.assertEqual((event["jobid"], event["rule"]), (9, "align"))
        self.assertEqual(event["outputs"], outputs[: len(event["outputs"])])
        self.assertGreater(len(event["outputs"]), 0)

    def test_an_event_too_long_even_with_one_entry_keeps_its_ids(self):
        self.feed(_job_started(4), _job_info(4, "huge", ["o" * 100000], {"w": "v" * 100000}))
        (event,) = self.events()
        self.assertEqual(event["outputs"], [])
        self.assertEqual(event["wildcards"], {})
        self.assertEqual(event["rule"], "huge")

    def test_an_error_in_any_script_still_fits_one_atomic_write(self):
        self.feed(_error("\u00e9\u2603" * 4000))
        (line,) = self.lines()
        self.assertLessEqual(len(line.encode()) + 1, 4096)
        (event,) = self.events()
        self.assertEqual(event["event"], "error")
        self.assertTrue(event["message"].endswith("..."))

    def test_failed_job_gets_job_failed_with_rule_and_reason_from_preceding_error(self):
        self.feed(
            _job_started(1),
            _job_info(1, "doomed", ["doomed.txt"]),
            _error(
                "RuleException:\nCalledProcessError in file \"Snakefile\", line 15:\n"
                "Command 'set -euo pipefail;  echo secret-value; exit 3' "
                "returned non-zero exit status 3.",
                exception="RuleException",
            ),
            _job_error(1, "doomed"),
        )
        events = self.events()
        self.assertEqual(events[1]["event"], "error")
        failed = events[2]
        self.assertEqual(failed["event"], "job_failed")
        self.assertEqual(failed["jobid"], 1)
        self.assertEqual(failed["rule"], "doomed")
        self.assertIn("non-zero exit status 3", failed["message"])

    def test_shell_commands_and_unlisted_fields_never_reach_the_output(self):
        self.feed(
            _job_started(1),
            _job_info(1, "doomed", ["doomed.txt"]),
            _error(
                "Command 'echo secret-value' returned non-zero exit status 1.",
                exception="RuleException",
            ),
            _job_error(1, "doomed"),
        )
        text = self.out.getvalue()
        self.assertNotIn("secret-value", text)
        self.assertNotIn("do-not-print", text)

    def test_workflow_error_names_the_rule_when_snakemake_does(self):
        self.feed(
            _error(
                'MissingInputException in rule all in file "Snakefile", line 1:\n'
                "Missing input files for rule all:\n    nope.txt",
                exception="MissingInputException",
            ),
            _error("TokenError:\n('EOF in multi-line statement', (4, 0))"),
        )
        first, second = self.events()
        self.assertEqual(first["event"], "error")
        self.assertEqual(first["rule"], "all")
        self.assertIn("nope.txt", first["message"])
        self.assertIsNone(second["rule"])

    def test_each_event_is_exactly_one_line_even_with_newlines_in_messages(self):
        self.feed(_error("line one\nline two\r\nline\u2028three"))
        self.assertEqual(len(self.lines()), 1)
        self.assertEqual(self.events()[0]["message"], "line one\nline two\r\nline\u2028three")

    def test_every_line_is_flushed_as_soon_as_it_is_written(self):
        seen_at_flush = []

        class Recording(io.StringIO):
            def flush(self):
                seen_at_flush.append(self.getvalue())

        self.handler.stream = Recording()
        self.feed(_progress(1, 2), _progress(2, 2))
        self.assertEqual(len(seen_at_flush), 2)
        self.assertTrue(seen_at_flush[0].endswith('"done":1,"total":2}\n'))
        self.assertTrue(seen_at_flush[1].endswith('"done":2,"total":2}\n'))

    def test_job_without_rule_name_is_reported_with_null_rule(self):
        self.feed(_job_started(9), _job_info(9, None, ["x"]), _job_finished(9, None))
        started, finished = self.events()
        self.assertIsNone(started["rule"])
        self.assertEqual(finished, {"event": "job_finished", "jobid": 9, "rule": None})

    def test_unserialisable_values_are_stringified(self):
        class Odd:
            def __str__(self):
                return "odd-output"

        self.feed(_job_started(2), _job_info(2, "r", [Odd()], {"w": Odd()}))
        started = self.events()[0]
        self.assertEqual(started["outputs"], ["odd-output"])
        self.assertEqual(started["wildcards"], {"w": "odd-output"})

    def test_emit_never_raises_on_malformed_records(self):
        broken = _record("x", event=LogEvent.JOB_INFO)
        broken.jobid = object()
        self.feed(
            broken,
            _record("x", event=LogEvent.RUN_INFO, stats=None),
            _record("x", event=LogEvent.JOB_STARTED, jobs=None),
            _record("x", event=LogEvent.PROGRESS),
            _record("x", event="no_such_event"),
            object(),
        )

        class Exploding(io.StringIO):
            def write(self, _):
                raise OSError("pipe closed")

        self.handler.stream = Exploding()
        self.feed(_progress(1, 1))

    def test_jobs_still_open_at_close_are_reported_failed(self):
        self.feed(_job_started(4), _job_info(4, "zeta_b2", ["zetaB.txt"]), _job_started(6))
        self.handler.close()
        events = self.events()
        ended = {e["jobid"]: e for e in events if e["event"] == "job_failed"}
        self.assertEqual(set(ended), {4, 6})
        self.assertEqual(ended[4]["rule"], "zeta_b2")
        starts = [e["jobid"] for e in events if e["event"] == "job_started"]
        self.assertEqual(sorted(starts), [4, 6])

    def test_a_job_is_ended_only_once(self):
        self.feed(
            _job_started(1),
            _job_info(1, "doomed", ["doomed.txt"]),
            _job_error(1, "doomed"),
            _job_error(1, "doomed"),
        )
        self.handler.close()
        kinds = [e["event"] for e in self.events()]
        self.assertEqual(kinds, ["job_started", "job_failed"])

    def test_nothing_to_be_done_reports_an_empty_completed_run(self):
        self.feed(
            _record(
                "Nothing to be done (all requested files are present and up to date)."
            )
        )
        self.assertEqual(
            self.events(),
            [
                {"event": "run_info", "total": 0, "per_rule": {}},
                {"event": "progress", "done": 0, "total": 0},
            ],
        )

    def test_plain_info_messages_produce_no_output(self):
        self.feed(_record("Building DAG of jobs..."), _record("Select jobs to execute..."))
        self.assertEqual(self.lines(), [])

    def test_handler_leaves_snakemakes_own_stderr_output_in_place(self):
        self.assertFalse(self.handler.writes_to_stream)
        self.assertFalse(self.handler.writes_to_file)

    def test_records_passed_through_snakemakes_queue_keep_their_fields(self):
        # Snakemake hands records to plugins through a QueueHandler, which
        # replaces msg with the formatted text ("None" for msg=None).
        q = queue.Queue()
        feeder = logging.handlers.QueueHandler(q)
        listener = logging.handlers.QueueListener(q, self.handler)
        listener.start()
        for record in (
            _job_started(0),
            _job_info(0, "target3", ["zeta.txt"]),
            _job_finished(0, "target3"),
            _progress(6, 6),
        ):
            feeder.handle(record)
        listener.stop()
        kinds = [e["event"] for e in self.events()]
        self.assertEqual(kinds, ["job_started", "job_finished", "progress"])
        self.assertEqual(self.events()[-1], {"event": "progress", "done": 6, "total": 6})


class QuietLoggerPluginTest(unittest.TestCase):
    def test_with_progress_quieted_open_jobs_end_as_finished_when_no_error_was_seen(self):
        from snakemake.settings.enums import Quietness

        handler = LogHandler(_Settings(quiet={Quietness.PROGRESS, Quietness.RULES}), None)
        handler.stream = io.StringIO()
        handler.emit(_job_started(0))
        handler.emit(_job_info(0, "target1", ["alpha.txt"]))
        handler.close()
        last = json.loads(handler.stream.getvalue().splitlines()[-1][len(PREFIX) + 1 :])
        self.assertEqual(last, {"event": "job_finished", "jobid": 0, "rule": "target1"})


if __name__ == "__main__":
    unittest.main()
