//! Container logs on disk in the CRI format the kubelet uses, and reading them back with the
//! options of `pods/log`: tailLines, sinceTime, sinceSeconds, limitBytes, timestamps.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::clock;

/// Longest line written as one record; longer output is split into partial (P) records.
const MAX_RECORD: usize = 16 * 1024;

/// The files of one run of one container: its log and a marker written when it has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    pub log: PathBuf,
    pub done: PathBuf,
}

impl LogFiles {
    /// The files for run `restart` of `container` in a pod directory.
    pub fn new(pod_dir: &Path, container: &str, restart: u64) -> Self {
        let dir = pod_dir.join("logs").join(container);
        Self {
            log: dir.join(format!("{restart}.log")),
            done: dir.join(format!("{restart}.done")),
        }
    }

    pub fn is_done(&self) -> bool {
        self.done.exists()
    }
}

/// Appends records from a container's stdout and stderr, interleaved as they arrive.
pub struct LogWriter {
    file: Mutex<tokio::fs::File>,
}

impl LogWriter {
    pub async fn create(files: &LogFiles) -> std::io::Result<Self> {
        if let Some(dir) = files.log.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&files.log)
            .await?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Writes one line (without its newline) from `stream` (stdout or stderr); `complete` is
    /// false when the output ended without a newline.
    pub async fn write(&self, stream: &str, line: &[u8], complete: bool) -> std::io::Result<()> {
        let chunks: Vec<&[u8]> = if line.is_empty() {
            vec![line]
        } else {
            line.chunks(MAX_RECORD).collect()
        };
        let mut file = self.file.lock().await;
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let tag = if last && complete { "F" } else { "P" };
            let mut record =
                format!("{} {stream} {tag} ", clock::nanos(Timestamp::now())).into_bytes();
            record.extend_from_slice(chunk);
            record.push(b'\n');
            file.write_all(&record).await?;
        }
        file.flush().await
    }
}

/// One record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub time: Timestamp,
    pub time_text: String,
    pub partial: bool,
    pub content: Vec<u8>,
}

/// Parses complete records from `bytes`; returns them and how many bytes they used.
pub fn parse(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut used = 0;
    while let Some(end) = bytes[used..].iter().position(|b| *b == b'\n') {
        let line = &bytes[used..used + end];
        used += end + 1;
        if let Some(record) = parse_record(line) {
            records.push(record);
        }
    }
    (records, used)
}

fn parse_record(line: &[u8]) -> Option<Record> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time_text = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let _stream = parts.next()?;
    let tag = parts.next()?;
    let content = parts.next().unwrap_or_default().to_vec();
    let time = clock::parse(&time_text)?;
    Some(Record {
        time,
        time_text,
        partial: tag == b"P",
        content,
    })
}

/// How `pods/log` asked for the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub since: Option<Timestamp>,
    pub limit_bytes: Option<usize>,
}

impl ReadOptions {
    /// Records to show from an initial read: since-filtered, then the last tailLines.
    pub fn select(&self, records: Vec<Record>) -> Vec<Record> {
        let mut records: Vec<Record> = records.into_iter().filter(|r| self.keeps(r)).collect();
        if let Some(tail) = self.tail_lines {
            let lines = records.iter().filter(|r| !r.partial).count();
            let skip_lines = lines.saturating_sub(tail);
            let mut complete_seen = 0;
            let start = records.iter().position(|r| {
                let at = complete_seen >= skip_lines;
                complete_seen += usize::from(!r.partial);
                at
            });
            records = records.split_off(start.unwrap_or(records.len()));
        }
        records
    }

    pub fn keeps(&self, record: &Record) -> bool {
        self.since.is_none_or(|since| record.time >= since)
    }

    /// The bytes a client sees for a record: content, a newline unless partial, and with
    /// timestamps the RFC 3339 time and a space first.
    pub fn render(&self, record: &Record) -> Vec<u8> {
        let mut out = Vec::with_capacity(record.content.len() + 40);
        if self.timestamps {
            out.extend_from_slice(record.time_text.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&record.content);
        if !record.partial {
            out.push(b'\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: &str, content: &str, partial: bool) -> Record {
        Record {
            time: time.parse().unwrap(),
            time_text: time.into(),
            partial,
            content: content.into(),
        }
    }

    #[tokio::test]
    async fn written_lines_parse_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files = LogFiles::new(dir.path(), "c", 0);
        let writer = LogWriter::create(&files).await.unwrap();
        writer.write("stdout", b"hello world", true).await.unwrap();
        writer.write("stderr", b"no newline", false).await.unwrap();
        let bytes = std::fs::read(&files.log).unwrap();
        let (records, used) = parse(&bytes);
        assert_eq!(used, bytes.len());
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].content, b"hello world");
        assert!(records[1].partial);
    }

    #[test]
    fn incomplete_trailing_records_wait_for_their_newline() {
        let (records, used) = parse(b"2024-01-01T00:00:00Z stdout F a\n2024-01-01T00:00:01Z std");
        assert_eq!(records.len(), 1);
        assert_eq!(used, 32);
    }

    #[test]
    fn tail_lines_keeps_the_last_lines() {
        let options = ReadOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        let records = vec![
            record("2024-01-01T00:00:00Z", "a", false),
            record("2024-01-01T00:00:01Z", "b", false),
            record("2024-01-01T00:00:02Z", "c", false),
        ];
        let kept: Vec<Vec<u8>> = options
            .select(records)
            .into_iter()
            .map(|r| r.content)
            .collect();
        assert_eq!(kept, vec![b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn since_time_drops_older_lines_and_timestamps_prefix() {
        let since = "2024-01-01T00:00:01Z".parse().unwrap();
        let options = ReadOptions {
            since: Some(since),
            timestamps: true,
            ..Default::default()
        };
        let records = vec![
            record("2024-01-01T00:00:00Z", "a", false),
            record("2024-01-01T00:00:01.5Z", "b", false),
        ];
        let kept = options.select(records);
        assert_eq!(kept.len(), 1);
        assert_eq!(options.render(&kept[0]), b"2024-01-01T00:00:01.5Z b\n");
    }
}
