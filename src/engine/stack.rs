//! Gives back the stack pages a thread-engine worker touched once and does not use while it
//! waits for an answer.
//!
//! A worker's stack keeps every page it ever touched. Opening a connection goes about 10 KiB
//! deeper than waiting for a response does (ureq's connector chain below its 9 KiB `run`),
//! so at pool 1,000 the first wave leaves 10 pages per worker resident where 7 are in use
//! while they all wait. Before a wait, [`trim`] hands the pages below the caller's frame back
//! to the kernel (`madvise(MADV_DONTNEED)`: they read as zeros when touched again), at most
//! once per [`EVERY`] per thread, so a fast run pays a few system calls a second and a worker
//! waiting a second pays one per request. Only threads that [`register`]ed their stack are
//! trimmed (the crews' workers of a pool too large for one rayon pool, whose stack is one
//! mapping of known bounds); elsewhere it does nothing. Written by hand: no crate trims a
//! running thread's stack.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// A worker trims at most this often.
const EVERY: Duration = Duration::from_millis(100);

/// Stack kept below the caller's frame, for the calls it makes before it blocks (a read).
const KEEP: usize = 1024;

thread_local! {
    /// The lowest usable address of this thread's stack (0: not registered).
    static LOW: Cell<usize> = const { Cell::new(0) };
    /// When this thread last trimmed.
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Allow [`trim`] on this thread: call it on a thread spawned with a stack of its own (never
/// the main thread, whose stack grows on demand and has no fixed lower bound).
pub(crate) fn register() {
    LOW.set(stack_low().unwrap_or(0));
}

/// Give back this thread's stack pages lying more than [`KEEP`] bytes below the caller's
/// frame, unless it did so within [`EVERY`] or never [`register`]ed.
#[inline(never)]
pub(crate) fn trim() {
    let low = LOW.get();
    if low == 0 {
        return;
    }
    let now = Instant::now();
    if LAST
        .get()
        .is_some_and(|last| now.duration_since(last) < EVERY)
    {
        return;
    }
    LAST.set(Some(now));
    // An address in this frame: what lies well below it is no frame of this thread's.
    let here = std::hint::black_box(&now) as *const Instant as usize;
    give_back(low, here.saturating_sub(KEEP));
}

/// Give back the whole pages of [low, end).
#[cfg(target_os = "linux")]
fn give_back(low: usize, end: usize) {
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as usize,
        _ => 4096,
    };
    let end = end & !(page - 1);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) is the unused part of this thread's own stack mapping (registered,
    // `low` as the thread library reports it, `end` below the caller's frame and the calls it
    // makes): nothing there is live, and a page given back reads as zeros when next touched.
    // Nothing else maps those addresses while the thread lives.
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

#[cfg(not(target_os = "linux"))]
fn give_back(_low: usize, _end: usize) {}

/// The lowest usable address of the calling thread's stack, from the thread library.
#[cfg(target_os = "linux")]
fn stack_low() -> Option<usize> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed
    // once; every pointer given is valid for the call.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr = std::ptr::null_mut();
        let mut size = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (got == 0 && !addr.is_null()).then_some(addr as usize)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_low() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deep frames, then a trim from a shallow one: what the deep frames wrote is gone (the
    /// pages were given back), and the thread goes on using its stack unharmed.
    #[test]
    #[cfg(target_os = "linux")]
    fn a_registered_thread_gives_back_the_pages_below_its_frame() {
        #[inline(never)]
        fn deep() -> usize {
            let mut block = [0xA5u8; 64 * 1024];
            std::hint::black_box(&mut block);
            block.as_ptr() as usize
        }
        #[inline(never)]
        fn read_at(at: usize) -> u8 {
            // SAFETY: `at` lies in this thread's stack mapping, far below the live frames.
            unsafe { std::ptr::read_volatile(at as *const u8) }
        }
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(|| {
                let at = deep() + 1024;
                assert_eq!(read_at(at), 0xA5, "the deep frame's bytes are there");
                trim(); // not registered: nothing given back
                assert_eq!(read_at(at), 0xA5);
                register();
                trim();
                assert_eq!(read_at(at), 0, "the page was given back");
                trim(); // within EVERY: nothing happens, and nothing breaks
                assert_eq!(deep(), at - 1024, "the stack is usable again");
            })
            .expect("a thread")
            .join()
            .expect("the thread ends");
    }
}
