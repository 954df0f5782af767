//! Reassembly of finished records: input order through a bounded reorder buffer, or
//! completion order. Never blocks and never touches the network.

use std::collections::VecDeque;

use crate::config::{Order, Shard};
use crate::record::Record;

/// One place of the input-order buffer.
#[derive(Debug)]
// Most places hold a record while they wait; boxing it would add an allocation per record.
#[allow(clippy::large_enum_variant)]
pub enum Slot {
    /// Its record has not arrived.
    Waiting,
    /// Its record, ready to leave.
    Ready(Record),
    /// An input this run does not fetch (done by an earlier run): no record will come.
    Skipped,
}

/// Holds finished records until they may leave, in the configured [`Order`].
#[derive(Debug)]
pub enum Orderer {
    /// Input order: `slots[i]` holds index `next + i`; the ready prefix leaves.
    Input {
        /// Which inputs the run holds; slots are counted in that shard's places.
        shard: Shard,
        /// Lowest place not yet emitted — the oldest unfinished one once the prefix is drained.
        next: u64,
        /// Records waiting for a lower index to finish.
        slots: VecDeque<Slot>,
        /// How many slots hold a record (kept, so asking costs nothing per record).
        held: usize,
    },
    /// Completion order: records leave in the order they arrived.
    Completion(VecDeque<Record>),
}

impl Orderer {
    /// An empty buffer for `order`.
    pub fn new(order: Order, shard: Option<Shard>) -> Self {
        match order {
            Order::Input => Orderer::Input {
                shard: shard.unwrap_or_else(Shard::whole),
                next: 0,
                slots: VecDeque::new(),
                held: 0,
            },
            Order::Completion => Orderer::Completion(VecDeque::new()),
        }
    }

    /// Take in a finished record.
    ///
    /// # Panics
    /// In input order, if a record arrives twice or for an index already emitted: the
    /// dispatcher hands out each index once, so this is a bug, not an input problem.
    pub fn push(&mut self, record: Record) {
        match self {
            Orderer::Input {
                shard,
                next,
                slots,
                held,
            } => {
                let offset = shard
                    .local(record.index)
                    .checked_sub(*next)
                    .expect("record for an index already emitted")
                    as usize;
                if slots.len() <= offset {
                    slots.resize_with(offset + 1, || Slot::Waiting);
                }
                assert!(
                    matches!(slots[offset], Slot::Waiting),
                    "record {} arrived twice",
                    record.index
                );
                slots[offset] = Slot::Ready(record);
                *held += 1;
            }
            Orderer::Completion(queue) => queue.push_back(record),
        }
    }

    /// Input `index` will get no record in this run (an earlier run has it).
    pub fn skip(&mut self, index: u64) {
        if let Orderer::Input {
            shard, next, slots, ..
        } = self
        {
            let Some(offset) = shard.local(index).checked_sub(*next) else {
                return;
            };
            let offset = offset as usize;
            if slots.len() <= offset {
                slots.resize_with(offset + 1, || Slot::Waiting);
            }
            slots[offset] = Slot::Skipped;
            // Skipped places at the front pass at once, so the window moves on without a
            // record to wait for.
            while let Some(Slot::Skipped) = slots.front() {
                slots.pop_front();
                *next += 1;
            }
        }
    }

    /// The next record allowed to leave, if any.
    pub fn pop(&mut self) -> Option<Record> {
        match self {
            Orderer::Input {
                next, slots, held, ..
            } => loop {
                match slots.front()? {
                    Slot::Waiting => return None,
                    Slot::Skipped => {
                        slots.pop_front();
                        *next += 1;
                    }
                    Slot::Ready(_) => {
                        let Some(Slot::Ready(record)) = slots.pop_front() else {
                            return None;
                        };
                        *next += 1;
                        *held -= 1;
                        return Some(record);
                    }
                }
            },
            Orderer::Completion(queue) => queue.pop_front(),
        }
    }

    /// Whether a record may leave now.
    pub fn ready(&self) -> bool {
        match self {
            Orderer::Input { slots, .. } => slots
                .iter()
                .find(|slot| !matches!(slot, Slot::Skipped))
                .is_some_and(|slot| matches!(slot, Slot::Ready(_))),
            Orderer::Completion(queue) => !queue.is_empty(),
        }
    }

    /// Records held, waiting to leave (the buffer's memory, in records).
    pub fn held(&self) -> usize {
        match self {
            Orderer::Input { held, .. } => *held,
            Orderer::Completion(queue) => queue.len(),
        }
    }

    /// In input order, the lowest place (in the shard) not yet emitted; `None` in completion
    /// order.
    pub fn next_to_emit(&self) -> Option<u64> {
        match self {
            Orderer::Input { next, .. } => Some(*next),
            Orderer::Completion(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64) -> Record {
        Record {
            index,
            url: format!("http://h/{index}"),
            method: "GET".into(),
            ok: true,
            status: Some(200),
            http_version: Some("HTTP/1.1".into()),
            final_url: None,
            content_type: None,
            remote_addr: None,
            bytes: 0,
            content_encoding: None,
            decoded_bytes: None,
            attempts: 1,
            worker: Some(0),
            queued_ms: 0.0,
            started_ms: 0.0,
            started_at: String::new(),
            dns_ms: None,
            connect_ms: None,
            tls_ms: None,
            ttfb_ms: None,
            finished_ms: 0.0,
            body: None,
            body_lossy: false,
            file: None,
            resumed_from: None,
            error: None,
            headers: None,
            meta: None,
        }
    }

    fn drain(orderer: &mut Orderer) -> Vec<u64> {
        std::iter::from_fn(|| orderer.pop())
            .map(|r| r.index)
            .collect()
    }

    #[test]
    fn input_order_emits_only_the_ready_prefix() {
        let mut orderer = Orderer::new(Order::Input, None);
        orderer.push(record(2));
        orderer.push(record(1));
        assert_eq!(drain(&mut orderer), Vec::<u64>::new());
        assert_eq!(orderer.held(), 2);
        orderer.push(record(0));
        assert_eq!(drain(&mut orderer), [0, 1, 2]);
        orderer.push(record(4));
        assert_eq!(drain(&mut orderer), Vec::<u64>::new());
        orderer.push(record(3));
        assert_eq!(drain(&mut orderer), [3, 4]);
        assert_eq!(orderer.next_to_emit(), Some(5));
        assert_eq!(orderer.held(), 0);
    }

    #[test]
    fn completion_order_is_arrival_order() {
        let mut orderer = Orderer::new(Order::Completion, None);
        for index in [3, 0, 2, 1] {
            orderer.push(record(index));
        }
        assert_eq!(drain(&mut orderer), [3, 0, 2, 1]);
        assert_eq!(orderer.next_to_emit(), None);
    }

    #[test]
    #[should_panic(expected = "twice")]
    fn a_duplicate_record_is_a_bug() {
        let mut orderer = Orderer::new(Order::Input, None);
        orderer.push(record(1));
        orderer.push(record(1));
    }
}
