"""Snakemake logger plugin that reports workflow progress to the byok8s daemon as JSON lines on stdout.

Snakemake loads this module when it is started with ``--logger byok8s`` and the
package directory's parent is on ``PYTHONPATH``.  Each structured event becomes
exactly one line on the process's standard output::

    @@byok8s@@ {"event":"job_started","jobid":3,"rule":"zeta_a1","local":false,...}

The handler reports ``writes_to_stream = False`` on purpose: Snakemake only
installs its own human-readable stderr handler when no plugin claims to write
to a stream, so this keeps the usual log output unchanged next to the events.

Only the fields of the documented events are written; whole records (which
can hold shell commands, resources or config values) are never dumped, and
shell commands quoted in error messages are cut out.
"""

import json
import logging
import re
import sys
import threading
from typing import Any, Dict, Iterable, List, Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase

__all__ = ["LogHandler", "PREFIX"]

PREFIX = "@@byok8s@@"

# Upper bounds on free-text fields so that one event stays a modest line.
_MAX_ERROR_CHARS = 4000
_MAX_REASON_CHARS = 500
# Rule commands and Snakemake's own messages may share a pipe with the events;
# a write of at most PIPE_BUF (4096 bytes on Linux) to a pipe is never mixed
# with other writers' output, so an event line stays below that.
_MAX_LINE_BYTES = 4000
# Lists and maps (a job's outputs and wildcards) are cut to this many entries
# before a line is measured, and halved while it is still too long.
_MAX_ENTRIES = 100

# A shell failure reported by Python's subprocess quotes the entire command,
# which may contain configuration values; the command is dropped from messages.
_QUOTED_COMMAND = re.compile(
    r"Command '.*' (returned non-zero exit status -?\d+|died with <Signals\.\w+: \d+>)",
    re.DOTALL,
)
# "SomeException in rule NAME in file ..." is how Snakemake names the rule.
_RULE_IN_MESSAGE = re.compile(r"^\w+ in rule ([A-Za-z_]\w*)\b")

# Snakemake logs this plain message instead of any job statistics when every
# requested file is already up to date.
try:
    from snakemake.common import NOTHING_TO_BE_DONE_MSG as _NOTHING_TO_BE_DONE
except Exception:  # pragma: no cover - only without a matching snakemake
    _NOTHING_TO_BE_DONE = (
        "Nothing to be done (all requested files are present and up to date)."
    )


def _event_name(record: Any) -> Optional[str]:
    """Return the Snakemake event of a record as a plain string, or None."""
    event = getattr(record, "event", None)
    if event is None:
        return None
    return str(getattr(event, "value", event))


def _job_id(value: Any) -> Any:
    """Return a job id as an int when possible, otherwise as a string."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _text(value: Any) -> Optional[str]:
    """Return a value as a string, keeping None as None."""
    if value is None:
        return None
    return str(value)


def _strings(values: Any) -> List[str]:
    """Return an iterable of file names (or anything) as a list of strings."""
    if values is None or isinstance(values, (str, bytes)):
        return [] if values is None else [str(values)]
    try:
        return [str(v) for v in values]
    except TypeError:
        return [str(values)]


def _string_map(mapping: Any) -> Dict[str, str]:
    """Return a mapping (such as job wildcards) with string keys and values."""
    if mapping is None:
        return {}
    try:
        items = mapping.items()
    except AttributeError:
        return {}
    return {str(k): str(v) for k, v in items}


def _clean_message(message: Any, limit: int) -> str:
    """Return a log message without quoted shell commands, trimmed to limit."""
    text = "" if message is None else str(message)
    text = _QUOTED_COMMAND.sub(lambda m: "Command " + m.group(1), text)
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _encode(payload: Dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True, default=str)


def _shortened(payload: Dict[str, Any], entries: int) -> Dict[str, Any]:
    """Return the payload with every list and map cut to its first entries."""
    result: Dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, list) and len(value) > entries:
            value = value[:entries]
        elif isinstance(value, dict) and len(value) > entries:
            value = dict(list(value.items())[:entries])
        result[key] = value
    return result


def _bounded_line(payload: Dict[str, Any]) -> str:
    """Encode an event as JSON no longer than _MAX_LINE_BYTES.

    Lists and maps lose entries from their ends first (a job keeps its first
    outputs); an event still too long loses them altogether, and then its
    longest texts are halved, since its ids matter more than what it lists.
    """
    entries = _MAX_ENTRIES
    line = _encode(_shortened(payload, entries))
    while len(line) > _MAX_LINE_BYTES and entries > 1:
        entries //= 2
        line = _encode(_shortened(payload, entries))
    if len(line) <= _MAX_LINE_BYTES:
        return line
    bare = {
        k: ([] if isinstance(v, list) else {} if isinstance(v, dict) else v)
        for k, v in payload.items()
    }
    line = _encode(bare)
    while len(line) > _MAX_LINE_BYTES:
        texts = [k for k, v in bare.items() if isinstance(v, str) and len(v) > 3]
        if not texts:
            break
        longest = max(texts, key=lambda k: len(bare[k]))
        bare[longest] = bare[longest][: len(bare[longest]) // 2] + "..."
        line = _encode(bare)
    return line


def _rule_from_message(message: str) -> Optional[str]:
    """Return the rule named on the first line of a Snakemake error, if any."""
    match = _RULE_IN_MESSAGE.match(message)
    return match.group(1) if match else None


def _suppresses_progress(quiet: Any) -> bool:
    """Whether the --quiet setting stops Snakemake from logging job ends."""
    try:
        return any(
            str(getattr(q, "name", q)).upper() == "PROGRESS" for q in (quiet or ())
        )
    except Exception:
        return False


class LogHandler(LogHandlerBase):
    """Turns Snakemake log records into ``@@byok8s@@`` JSON lines on stdout."""

    def __post_init__(self) -> None:
        self.stream = sys.stdout
        self._state_lock = threading.RLock()
        # jobid -> {"rule", "outputs", "wildcards"} learned from job_info
        self._jobs: Dict[Any, Dict[str, Any]] = {}
        # jobs announced as started whose job_info has not arrived yet
        self._pending: List[Any] = []
        # jobs whose job_started line was written and that have not ended yet
        self._open: Dict[Any, Optional[str]] = {}
        # jobs that already got job_finished or job_failed
        self._ended: set = set()
        # message of the error record handled just before, for job_failed
        self._previous_error: Optional[str] = None
        self._saw_error = False
        self._progress_suppressed = _suppresses_progress(
            getattr(self.common_settings, "quiet", None)
        )
        self._closed = False

    # Snakemake keeps its own stderr handler only if this is False.
    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False

    # Own filtering: events must not disappear because of --quiet.
    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    # ------------------------------------------------------------------ output

    def _write(self, payload: Dict[str, Any]) -> None:
        """Write one event line and flush, swallowing any failure."""
        try:
            line = _bounded_line(payload)
        except Exception:
            return
        try:
            self.stream.write(PREFIX + " " + line + "\n")
            self.stream.flush()
        except Exception:
            pass

    # ------------------------------------------------------------------ events

    def emit(self, record: Any) -> None:
        try:
            with self._state_lock:
                self._dispatch(record)
        except Exception:
            pass

    def _dispatch(self, record: Any) -> None:
        event = _event_name(record)
        previous_error, self._previous_error = self._previous_error, None
        if event == "run_info":
            self._on_run_info(record)
        elif event == "job_info":
            self._on_job_info(record)
        elif event == "job_started":
            self._on_job_started(record)
        elif event == "job_finished":
            self._on_job_finished(record)
        elif event == "job_error":
            self._on_job_error(record, previous_error)
        elif event == "group_error":
            # One job_error per member follows; they carry the details.
            self._previous_error = previous_error
        elif event == "progress":
            self._on_progress(record)
        elif event == "error" or (
            event is None and getattr(record, "levelno", 0) >= logging.ERROR
        ):
            self._on_error(record)
        elif event is None and self._message_of(record) == _NOTHING_TO_BE_DONE:
            # No run_info or progress would follow; report an empty, complete run.
            self._write({"event": "run_info", "total": 0, "per_rule": {}})
            self._write({"event": "progress", "done": 0, "total": 0})

    def _on_run_info(self, record: Any) -> None:
        stats = getattr(record, "stats", None)
        if not isinstance(stats, dict):
            return
        per_rule = {}
        for name, count in stats.items():
            if name == "total":
                continue
            per_rule[str(name)] = _job_id(count)
        total = stats.get("total")
        if total is None:
            total = sum(v for v in per_rule.values() if isinstance(v, int))
        self._write(
            {"event": "run_info", "total": _job_id(total), "per_rule": per_rule}
        )

    def _on_job_info(self, record: Any) -> None:
        jobid = _job_id(getattr(record, "jobid", None))
        if jobid is None:
            return
        self._jobs[jobid] = {
            "rule": _text(getattr(record, "rule_name", None)),
            "outputs": _strings(getattr(record, "output", None)),
            "wildcards": _string_map(getattr(record, "wildcards", None)),
            # Whether the job runs in Snakemake's own process (a localrule) rather than
            # through the executor: byok8sd's watchdog waits for no rule Job for it.
            "local": getattr(record, "local", False) is True,
        }
        # Snakemake announces "Execute N jobs" before describing each job.
        if jobid in self._pending:
            self._pending.remove(jobid)
            self._emit_started(jobid)

    def _on_job_started(self, record: Any) -> None:
        jobs = getattr(record, "jobs", None)
        if jobs is None:
            jobs = [getattr(record, "jobid", None)]
        for raw in jobs if isinstance(jobs, Iterable) else [jobs]:
            jobid = _job_id(raw)
            if jobid is None or jobid in self._pending:
                continue
            if jobid in self._jobs:
                # Already described (e.g. a retry of the same job): the rule
                # and outputs of a job id never change, so start it now.
                self._emit_started(jobid)
            else:
                # Snakemake 9 logs job_info right after this record.
                self._pending.append(jobid)

    def _on_job_finished(self, record: Any) -> None:
        jobid = _job_id(getattr(record, "job_id", getattr(record, "jobid", None)))
        if jobid is None or not self._may_end(jobid):
            return
        self._emit_ended(jobid, "job_finished")

    def _on_job_error(self, record: Any, previous_error: Optional[str]) -> None:
        jobid = _job_id(getattr(record, "jobid", None))
        rule = _text(getattr(record, "rule_name", None))
        self._saw_error = True
        if jobid is None or not self._may_end(jobid):
            return
        reason = self._failure_reason(record, previous_error, rule, jobid)
        self._emit_ended(jobid, "job_failed", rule=rule, message=reason)

    def _on_progress(self, record: Any) -> None:
        done = getattr(record, "done", None)
        total = getattr(record, "total", None)
        if done is None or total is None:
            return
        self._write(
            {"event": "progress", "done": _job_id(done), "total": _job_id(total)}
        )

    def _on_error(self, record: Any) -> None:
        message = _clean_message(self._message_of(record), _MAX_ERROR_CHARS)
        if not message:
            return
        rule = _text(getattr(record, "rule", None)) or _rule_from_message(message)
        self._write({"event": "error", "message": message, "rule": rule})
        self._saw_error = True
        self._previous_error = _clean_message(message, _MAX_REASON_CHARS)

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _message_of(record: Any) -> Any:
        try:
            return record.getMessage()
        except Exception:
            return getattr(record, "msg", None)

    def _failure_reason(
        self,
        record: Any,
        previous_error: Optional[str],
        rule: Optional[str],
        jobid: Any,
    ) -> str:
        # The exception Snakemake printed right before this job error is the
        # most specific reason available; the rule's message: text comes next.
        if previous_error:
            return previous_error
        rule_msg = getattr(record, "rule_msg", None)
        if rule_msg:
            return _clean_message(rule_msg, _MAX_REASON_CHARS)
        return "Error in rule {}, jobid: {}".format(rule or "?", jobid)

    def _may_end(self, jobid: Any) -> bool:
        """Whether a finished/failed line may be written for this job now."""
        return (
            jobid in self._open
            or jobid in self._pending
            or jobid not in self._ended
        )

    def _emit_started(self, jobid: Any) -> None:
        info = self._jobs.get(jobid, {})
        rule = info.get("rule")
        self._write(
            {
                "event": "job_started",
                "jobid": jobid,
                "rule": rule,
                "outputs": info.get("outputs", []),
                "wildcards": info.get("wildcards", {}),
                "local": info.get("local", False),
            }
        )
        self._open[jobid] = rule
        self._ended.discard(jobid)

    def _emit_ended(
        self,
        jobid: Any,
        event: str,
        rule: Optional[str] = None,
        message: Optional[str] = None,
    ) -> None:
        # A job that was announced but never described still gets its start.
        if jobid in self._pending:
            self._pending.remove(jobid)
            self._emit_started(jobid)
        if rule is None:
            rule = self._open.get(jobid) or self._jobs.get(jobid, {}).get("rule")
        payload: Dict[str, Any] = {"event": event, "jobid": jobid, "rule": rule}
        if event == "job_failed":
            payload["message"] = message or "job failed"
        self._write(payload)
        self._open.pop(jobid, None)
        self._ended.add(jobid)

    def _end_open_jobs(self) -> None:
        # With "--quiet" or "--quiet progress" Snakemake creates no
        # job_finished records at all; if it also reported no error, every
        # job it started has succeeded by the time logging shuts down.
        succeeded = self._progress_suppressed and not self._saw_error
        for jobid in list(self._pending) + list(self._open):
            if jobid not in self._open and jobid not in self._pending:
                continue
            if succeeded:
                self._emit_ended(jobid, "job_finished")
            else:
                self._emit_ended(
                    jobid,
                    "job_failed",
                    message="Snakemake stopped without reporting the end of this job",
                )

    def close(self) -> None:
        """End every job still open so that each started job gets an end line."""
        try:
            with self._state_lock:
                if not self._closed:
                    self._closed = True
                    self._end_open_jobs()
        except Exception:
            pass
        try:
            super().close()
        except Exception:
            pass
