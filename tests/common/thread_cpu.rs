//! CPU time of the calling thread (Unix), for the tests that bound how much
//! CPU a read or a wait uses (included with
//! `#[path = "common/thread_cpu.rs"] mod thread_cpu;`).

/// CPU time the calling thread has used so far.
pub fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
        0
    );
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
