//! A reader that fails once a bundle has decompressed more bytes than it may.

use std::io::{self, Read};

use super::{BundleError, BundleLimits};

/// Room for tar's own records (headers, long names, extensions) beside the file data: one KiB
/// per allowed entry, plus one MiB.
const RECORD_ALLOWANCE_PER_ENTRY: u64 = 1024;
const RECORD_ALLOWANCE: u64 = 1024 * 1024;

/// Counts every decompressed byte, whatever the tar reader does with it.
pub struct Budget<R> {
    inner: R,
    left: u64,
}

/// The error a [`Budget`] fails with, recognised by [`classify`].
#[derive(Debug, thiserror::Error)]
#[error("decompressed more than the bundle may hold")]
struct Exceeded;

impl<R> Budget<R> {
    pub fn new(inner: R, limits: BundleLimits) -> Budget<R> {
        let records = RECORD_ALLOWANCE_PER_ENTRY.saturating_mul(limits.max_entries as u64);
        let left = limits
            .max_unpacked_bytes
            .saturating_add(records)
            .saturating_add(RECORD_ALLOWANCE);
        Budget { inner, left }
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One more byte would tell whether the stream really goes on; any does.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(Exceeded)),
            };
        }
        let room = buffer
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..room])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// Maps an I/O error to `TooLarge` when a budget ran out, else with `otherwise`.
pub fn classify(
    limits: BundleLimits,
    otherwise: fn(io::Error) -> BundleError,
) -> impl Fn(io::Error) -> BundleError {
    move |error| {
        let exceeded = error.get_ref().is_some_and(|inner| inner.is::<Exceeded>());
        match exceeded {
            true => BundleError::TooLarge {
                limit: limits.max_unpacked_bytes,
            },
            false => otherwise(error),
        }
    }
}
