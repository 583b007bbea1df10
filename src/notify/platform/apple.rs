//! macOS (and the other Apple systems): `os_sync_wait_on_address` on
//! `epoch`, where the system has it (macOS 14.4, iOS 17.4 and later); its
//! `SHARED` flags for a `Notify` in a shared file, so that waiters in every
//! process that maps the file are woken (the kernel keys shared waits by the
//! mapped object and offset, like Linux's shared futex). Waits and wakes on
//! one address must agree on the flag: a handle that maps a file registers
//! its `Notify` ([`SharedWaiting`]), and both sides look the registration up.
//!
//! The functions are looked up at run time (`dlsym`): a binary that named
//! them would not load on older systems, and Rust has no stable weak
//! linkage. Without them waiters sleep in slices of `FALLBACK_SLICE`, as
//! before.

use core::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;
use std::time::Duration;

use crate::notify::Notify;

/// `OS_SYNC_WAIT_ON_ADDRESS_SHARED` and `OS_SYNC_WAKE_BY_ADDRESS_SHARED`
/// (`os/os_sync_wait_on_address.h`): the address is in memory shared with
/// other processes.
#[cfg(feature = "shm")]
const SHARED: u32 = 1;
/// `OS_CLOCK_MACH_ABSOLUTE_TIME`, the only clock the timed wait accepts.
const MACH_ABSOLUTE_TIME: u32 = 32;
/// `EINTR`, `EFAULT` and `ETIMEDOUT` on Apple systems: the wait ended, the
/// caller checks again. Any other error makes the waiter sleep a slice
/// instead, so that it never spins.
const EINTR: c_int = 4;
const EFAULT: c_int = 14;
const ETIMEDOUT: c_int = 60;

/// `RTLD_DEFAULT` (`dlfcn.h`): every image loaded in the process.
const RTLD_DEFAULT: *mut c_void = core::ptr::without_provenance_mut(-2isize as usize);

extern "C" {
    /// libSystem's `dlsym`: a symbol's address, or null.
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// `int os_sync_wait_on_address(void *addr, uint64_t value, size_t size,
/// os_sync_wait_on_address_flags_t flags)`.
type Wait = unsafe extern "C" fn(*mut c_void, u64, usize, u32) -> c_int;
/// `int os_sync_wait_on_address_with_timeout(void *addr, uint64_t value,
/// size_t size, os_sync_wait_on_address_flags_t flags, os_clockid_t clockid,
/// uint64_t timeout_ns)`.
type WaitTimeout = unsafe extern "C" fn(*mut c_void, u64, usize, u32, u32, u64) -> c_int;
/// `int os_sync_wake_by_address_all(void *addr, size_t size,
/// os_sync_wake_by_address_flags_t flags)`.
type WakeAll = unsafe extern "C" fn(*mut c_void, usize, u32) -> c_int;

struct Functions {
    wait: Wait,
    wait_timeout: WaitTimeout,
    wake_all: WakeAll,
}

/// The three functions, if this system has them; looked up once.
fn functions() -> Option<&'static Functions> {
    static FUNCTIONS: OnceLock<Option<Functions>> = OnceLock::new();
    FUNCTIONS.get_or_init(resolve).as_ref()
}

fn resolve() -> Option<Functions> {
    let find = |name: &CStr| {
        // SAFETY: `name` is NUL-terminated; `RTLD_DEFAULT` is a valid handle.
        let f = unsafe { dlsym(RTLD_DEFAULT, name.as_ptr()) };
        (!f.is_null()).then_some(f)
    };
    let wait = find(c"os_sync_wait_on_address")?;
    let wait_timeout = find(c"os_sync_wait_on_address_with_timeout")?;
    let wake_all = find(c"os_sync_wake_by_address_all")?;
    // SAFETY: each symbol is the libSystem function of that name, whose C
    // signature (`os/os_sync_wait_on_address.h`) the type spells.
    unsafe {
        Some(Functions {
            wait: core::mem::transmute::<*mut c_void, Wait>(wait),
            wait_timeout: core::mem::transmute::<*mut c_void, WaitTimeout>(wait_timeout),
            wake_all: core::mem::transmute::<*mut c_void, WakeAll>(wake_all),
        })
    }
}

/// The flags for `n`: `SHARED` if it lives in a registered shared mapping.
fn flags(n: &Notify) -> u32 {
    #[cfg(feature = "shm")]
    if REGISTRY.get(key(n)).is_some() {
        return SHARED;
    }
    let _ = n;
    0
}

pub(in crate::notify) fn wake_all(n: &Notify) {
    let Some(f) = functions() else { return };
    // SAFETY: the address of a live, aligned `AtomicU32`, with its size;
    // the kernel only uses it as a key. `ENOENT` (nobody waits) is fine.
    unsafe { (f.wake_all)(n.epoch.as_ptr().cast(), 4, flags(n)) };
}

pub(in crate::notify) fn wait(n: &Notify, epoch: u32, timeout: Option<Duration>) {
    let slice = || {
        let s = crate::notify::FALLBACK_SLICE;
        std::thread::sleep(timeout.map_or(s, |t| t.min(s)));
    };
    let Some(f) = functions() else { return slice() };
    let (addr, value, flags) = (n.epoch.as_ptr().cast(), u64::from(epoch), flags(n));
    // SAFETY: as in `wake_all`; the kernel compares the word with `value`
    // and enqueues the waiter atomically with respect to wakes (as the
    // futex does), reading the word only.
    let r = unsafe {
        match timeout {
            None => (f.wait)(addr, value, 4, flags),
            // At least 1 ns: 0 is `EINVAL`.
            Some(t) => {
                let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1);
                (f.wait_timeout)(addr, value, 4, flags, MACH_ABSOLUTE_TIME, ns)
            }
        }
    };
    // Woken (`r >= 0`, also when the word had changed), or interrupted,
    // faulted or timed out: the caller checks again.
    if r < 0 {
        let e = std::io::Error::last_os_error().raw_os_error();
        if !matches!(e, Some(EINTR | EFAULT | ETIMEDOUT)) {
            slice();
        }
    }
}

#[cfg(feature = "shm")]
static REGISTRY: super::registry::Registry<()> = super::registry::Registry::new();

#[cfg(feature = "shm")]
fn key(n: &Notify) -> usize {
    (n as *const Notify).addr()
}

/// A `Notify` in a mapping shared with other processes, registered for as
/// long as this lives: waits and wakes on it pass the `SHARED` flags.
#[cfg(feature = "shm")]
pub(crate) struct SharedWaiting {
    key: usize,
}

#[cfg(feature = "shm")]
impl SharedWaiting {
    /// Registers `notify`, which lives in a mapping shared with other
    /// processes.
    ///
    /// # Safety
    ///
    /// `notify` stays mapped until the returned value is dropped, and no
    /// other registration for its address lives meanwhile.
    pub(crate) unsafe fn register(
        notify: &Notify,
        _word: &crate::sync::AtomicU32,
        _file: (u64, u64),
    ) -> Self {
        let key = key(notify);
        REGISTRY.insert(key, ());
        SharedWaiting { key }
    }
}

#[cfg(feature = "shm")]
impl Drop for SharedWaiting {
    fn drop(&mut self) {
        REGISTRY.remove(self.key);
    }
}
