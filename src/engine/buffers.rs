//! A connection's input and output buffers for the lean TCP transport: both start small and
//! grow only when a request or a response needs it.
//!
//! ureq's `LazyBuffers` zero-fills its whole input buffer up front, so every connection holds
//! its largest-head-allowed (16 KiB here) in touched memory, although a request and a small
//! response use a page of it: at a pool of 1,000 that is 16 MB. These start the input at
//! [`INPUT_START`] and double it when a read fills it (a big head or a download), up to the
//! head limit; the output (8 KiB in all at a pool of 1,000: 8 MB) starts at [`OUTPUT_START`]
//! and grows to hold the longest line of the head being sent. The bookkeeping (filled, consumed, shifting) is ureq's, rewritten because its
//! buffer type is private.

use ureq::unversioned::transport::Buffers;

/// A request body is read into spare input space of at least this much (as ureq does).
const MIN_TMP: usize = 10 * 1024;

/// The input buffer a connection starts with.
const INPUT_START: usize = 4 * 1024;

/// The output buffer a connection starts with.
const OUTPUT_START: usize = 1024;

/// Room beside a request's longest line for the headers ureq adds itself.
const OUTPUT_SLACK: usize = 512;

/// Input (filled and consumed counters over one vector) and output, both allocated on first use.
#[derive(Debug)]
pub(crate) struct LeanBuffers {
    /// The most the input grows to: it bounds a response head.
    input_size: usize,
    output_size: usize,
    input: Vec<u8>,
    filled: usize,
    consumed: usize,
    output: Vec<u8>,
    /// The last consume took something (ureq's `can_use_input` contract).
    progress: bool,
}

impl LeanBuffers {
    /// Buffers of `input_size` (which also bounds a response head) and `output_size` bytes.
    pub(crate) fn new(input_size: usize, output_size: usize) -> Self {
        LeanBuffers {
            input_size: input_size.max(1),
            output_size: output_size.max(1),
            input: Vec::new(),
            filled: 0,
            consumed: 0,
            output: Vec::new(),
            progress: false,
        }
    }

    /// Make the output hold a head line of `line` bytes whole (ureq sends a head in pieces,
    /// but never splits a line), up to `output_size`.
    pub(crate) fn fit_output(&mut self, line: usize) {
        let want = (line + OUTPUT_SLACK)
            .max(OUTPUT_START)
            .min(self.output_size);
        if self.output.len() < want {
            let mut grown = vec![0; want];
            grown[..self.output.len()].copy_from_slice(&self.output);
            self.output = grown;
        }
    }

    fn ensure_allocation(&mut self) {
        if self.output.is_empty() {
            self.fit_output(0);
        }
        if self.input.is_empty() {
            self.input = vec![0; INPUT_START.min(self.input_size)];
        }
    }

    /// Double the input when it is full, up to `input_size`.
    fn grow_if_full(&mut self) {
        if self.filled == self.input.len() && self.input.len() < self.input_size {
            self.grow_input((self.input.len() * 2).min(self.input_size));
        }
    }

    /// Grow the input vector to `size` bytes (zeroed by the allocator, then copied over).
    fn grow_input(&mut self, size: usize) {
        if size <= self.input.len() {
            return;
        }
        let mut grown = vec![0; size];
        grown[..self.filled].copy_from_slice(&self.input[..self.filled]);
        self.input = grown;
    }

    /// Move unconsumed input to the front when that makes room worth having.
    fn shift(&mut self) {
        if self.consumed == 0 {
            return;
        }
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        } else if self.filled > self.input.len() / 2 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }
}

impl Buffers for LeanBuffers {
    fn output(&mut self) -> &mut [u8] {
        self.ensure_allocation();
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.ensure_allocation();
        self.shift();
        self.grow_if_full();
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled = (self.filled + amount).min(self.input.len());
        // A read that filled the buffer: more is coming, read it in larger pieces.
        self.grow_if_full();
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = (self.consumed + amount).min(self.filled);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.ensure_allocation();
        self.shift();
        let free = self.input.len() - self.filled;
        if free < MIN_TMP {
            self.grow_input(self.filled + MIN_TMP);
        }
        (&mut self.input[self.filled..], &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.consumed < self.filled && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_fits_the_longest_line_up_to_its_limit() {
        let mut buffers = LeanBuffers::new(1024, 8 * 1024);
        assert_eq!(buffers.output().len(), OUTPUT_START);
        buffers.output()[..3].copy_from_slice(b"GET");
        buffers.fit_output(3000);
        assert_eq!(buffers.output().len(), 3000 + OUTPUT_SLACK);
        assert_eq!(&buffers.output()[..3], b"GET", "kept what was written");
        buffers.fit_output(100);
        assert_eq!(buffers.output().len(), 3000 + OUTPUT_SLACK, "never shrinks");
        buffers.fit_output(1 << 20);
        assert_eq!(buffers.output().len(), 8 * 1024, "capped");
    }

    #[test]
    fn input_starts_small_and_grows_to_the_head_limit_when_filled() {
        let mut buffers = LeanBuffers::new(16 * 1024, 1024);
        assert_eq!(buffers.input_append_buf().len(), INPUT_START);
        let mut total = 0;
        loop {
            let free = buffers.input_append_buf().len();
            if free == 0 {
                break;
            }
            buffers.input_appended(free);
            total += free;
        }
        // Nothing consumed (one unfinished head): it stops at the limit, as ureq's does.
        assert_eq!(total, 16 * 1024);
        assert_eq!(buffers.input().len(), 16 * 1024);
    }

    #[test]
    fn input_is_appended_consumed_and_shifted_like_ureqs_buffers() {
        let mut buffers = LeanBuffers::new(8, 4);
        assert_eq!(
            buffers.input_append_buf().len(),
            8,
            "smaller than INPUT_START"
        );
        assert_eq!(buffers.output().len(), 4, "smaller than OUTPUT_START");
        assert!(buffers.input().is_empty());
        buffers.input_append_buf()[..6].copy_from_slice(b"abcdef");
        buffers.input_appended(6);
        assert_eq!(buffers.input(), b"abcdef");
        assert!(!buffers.can_use_input(), "nothing consumed yet");
        buffers.input_consume(4);
        assert!(buffers.can_use_input());
        assert_eq!(buffers.input(), b"ef");
        // More than half full: the rest moves to the front, leaving 6 bytes of room.
        assert_eq!(buffers.input_append_buf().len(), 6);
        assert_eq!(buffers.input(), b"ef");
        buffers.input_consume(2);
        assert_eq!(
            buffers.input_append_buf().len(),
            8,
            "all consumed: all free"
        );
        // A request body needs at least MIN_TMP of scratch space.
        let (tmp, output) = buffers.tmp_and_output();
        assert!(tmp.len() >= MIN_TMP);
        assert_eq!(output.len(), 4);
    }
}
