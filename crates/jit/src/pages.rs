//! Large tables on 2 MB pages, where the kernel gives them.
//!
//! Collaborative filtering at MovieLens-25M's size reads two rows of its tables, their
//! optimizer state and a rating at random addresses across about 700 MB for each
//! rating. On 4 KB pages nearly every one of those reads also misses the processor's
//! page-translation cache (it holds a few thousand pages: some 8 MB); on 2 MB pages it
//! holds them all. Linux gives 2 MB pages to memory marked for them (`MADV_HUGEPAGE`)
//! before it is first touched, where transparent huge pages are enabled for such memory
//! (`/sys/kernel/mm/transparent_hugepage/enabled`: `madvise`, the usual default, or
//! `always`). Measured on the Xeon: an epoch of 25M ratings about a tenth quicker
//! (BENCHMARKS.md). Elsewhere, or where the kernel declines, nothing changes.

/// Below this, a vector is not worth the advice: its pages fit the translation cache.
const WORTH: usize = 16 << 20;

/// Asks that `v`'s room (its capacity) be backed by 2 MB pages. Call it before the room
/// is first written: advice on pages already touched waits for a background pass.
/// Advice only: the contents and the allocation are unchanged, whatever the answer.
pub(crate) fn prefer_huge<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes < WORTH {
            return;
        }
        let start = v.as_mut_ptr() as usize;
        // (Only whole 2 MB pages within the room: the kernel rounds the range's ends to
        // its own pages, and the room's ends need not lie on 2 MB.)
        let (lo, hi) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if hi > lo {
            // SAFETY: `[lo, hi)` lies within the vector's allocation, which stays
            // allocated for the call; `MADV_HUGEPAGE` is advice on how to back those
            // pages and reads or writes none of them. A refusal (no transparent huge
            // pages here) leaves everything as it was: its result is not needed.
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}
