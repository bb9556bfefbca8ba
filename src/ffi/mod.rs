//! The C ABI (`include/synthvol.h`, generated from this module by cbindgen).
//!
//! Conventions (see the header's preamble): every function returns an `sv_status` except the
//! free functions, the version queries and `sv_last_error`; a failure leaves a message in a
//! thread-local buffer; no panic crosses the boundary; handles are opaque and typed, and every
//! `*_free` accepts NULL. This layer translates and validates; the engine computes.
#![allow(non_camel_case_types)]
// Every entry checks its pointers before it dereferences them; the functions stay safe to
// call from C, which is the only caller.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod bytes;
mod evaluate;
mod model;
mod privacy;
mod syn;
mod table;

pub use bytes::*;
// Every entry point, for the benchmarks (through the internals); C sees the symbols anyway.
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use evaluate::*;
pub use model::*;
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use privacy::*;
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use syn::*;
pub use table::*;

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

use crate::error::{Error, ErrorKind};
use crate::progress::Progress;

/// Version of the C ABI: changes whenever a function, type or constant in the header changes
/// in a way that breaks a compiled caller. Bindings compare it with `sv_abi_version()`.
pub const SV_ABI_VERSION: u32 = 1;

/// Status of a call: 0 is success; the other values are stable.
pub type sv_status = i32;
/// Success.
pub const SV_OK: sv_status = 0;
/// A required pointer argument was NULL.
pub const SV_E_NULL: sv_status = 1;
/// An argument is out of range or inconsistent (the message names it).
pub const SV_E_INVALID_ARGUMENT: sv_status = 2;
/// The data cannot be used as given (a level the model does not know, too few rows, ...).
pub const SV_E_DATA: sv_status = 3;
/// Bytes or a file are not a synthvol model, are damaged, or come from a newer version.
pub const SV_E_FORMAT: sv_status = 4;
/// Reading or writing a file failed.
pub const SV_E_IO: sv_status = 5;
/// The progress callback or the cancel token stopped the call; every handle stays valid.
pub const SV_E_CANCELLED: sv_status = 6;
/// A numerical failure (a solver did not converge, a value is not finite).
pub const SV_E_NUMERICAL: sv_status = 7;
/// A text argument is not valid UTF-8.
pub const SV_E_UTF8: sv_status = 8;
/// A caller-allocated buffer is too small (the size needed is returned).
pub const SV_E_BUFFER_TOO_SMALL: sv_status = 9;
/// An internal error (a bug in synthvol); the message says where.
pub const SV_E_PANIC: sv_status = 10;
/// The compute device asked for is not available or failed: no GPU or no GPU backend in this
/// build, a missing driver or library, device memory exhausted. `device = "auto"` never gives
/// it.
pub const SV_E_DEVICE: sv_status = 11;
/// The request needs more memory than the library allows or the machine has (too many rows in
/// one call, layers too wide); the message names the limit and how to stay within it.
pub const SV_E_RESOURCES: sv_status = 12;

/// Column kind: numeric (`double`, NaN is missing).
pub const SV_NUMERIC: i32 = 0;
/// Column kind: categorical (integer codes into level labels).
pub const SV_CATEGORICAL: i32 = 1;

/// Log level of notices (what a call did that the caller may want to know).
pub const SV_LOG_INFO: i32 = 0;
/// Log level of warnings.
pub const SV_LOG_WARNING: i32 = 1;

/// Progress callback: `stage` ("train", "sample", "evaluate") is a NUL-terminated string valid
/// during the call; `loss` is NaN when there is none. Return 0 to go on, anything else to
/// cancel (the call then returns `SV_E_CANCELLED`). Called only on the thread that made the
/// call, never concurrently with itself.
pub type sv_progress_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        stage: *const c_char,
        done: u64,
        total: u64,
        loss: f64,
    ) -> i32,
>;

/// Log callback: `message` is NUL-terminated UTF-8, valid during the call.
pub type sv_log_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, level: i32, message: *const c_char)>;

/// A cancel token: `sv_cancel_request` from any thread makes the calls that were given the
/// token return `SV_E_CANCELLED` at their next progress point.
pub struct sv_cancel {
    flag: Arc<AtomicBool>,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A failure on its way to C.
pub(crate) struct Failure {
    status: sv_status,
    message: String,
}

impl Failure {
    pub(crate) fn new(status: sv_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn null(what: &str) -> Self {
        Failure::new(SV_E_NULL, format!("{what} is NULL"))
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(SV_E_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e.kind {
            ErrorKind::Data => SV_E_DATA,
            ErrorKind::InvalidArgument => SV_E_INVALID_ARGUMENT,
            ErrorKind::Format => SV_E_FORMAT,
            ErrorKind::Io => SV_E_IO,
            ErrorKind::Cancelled => SV_E_CANCELLED,
            ErrorKind::Numerical => SV_E_NUMERICAL,
            ErrorKind::Device => SV_E_DEVICE,
            ErrorKind::Resources => SV_E_RESOURCES,
        };
        Failure::new(status, e.message)
    }
}

pub(crate) type FfiResult<T> = std::result::Result<T, Failure>;

fn set_last_error(message: &str) {
    // Interior NULs cannot appear in a C string: replace them.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Entry points running now (any thread): while there are any, a panic's report goes to the
/// failing call's message instead of stderr, which belongs to the host process.
static IN_CALLS: AtomicUsize = AtomicUsize::new(0);
/// Where the last panic inside a call happened, with a backtrace (the hook fills it).
static PANIC_AT: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Installs, once, a panic hook that keeps reports of panics inside entry points (on the
/// calling thread or the call's worker threads) for `sv_last_error` and leaves every other
/// panic to the hook that was there before.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CALLS.load(Ordering::SeqCst) == 0 {
                return previous(info);
            }
            let at = info.location().map_or_else(
                || "an unknown place".into(),
                |l| format!("{}:{}", l.file(), l.line()),
            );
            let trace = std::backtrace::Backtrace::force_capture();
            if let Ok(mut g) = PANIC_AT.lock() {
                *g = Some(format!("at {at}\nbacktrace:\n{trace}"));
            }
        }));
    });
}

/// Counts an entry point as running while it lives.
struct InCall;

impl InCall {
    fn enter() -> InCall {
        install_panic_hook();
        IN_CALLS.fetch_add(1, Ordering::SeqCst);
        InCall
    }
}

impl Drop for InCall {
    fn drop(&mut self) {
        IN_CALLS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs an entry point: catches panics (their report, location and backtrace go to
/// `sv_last_error`, never to stderr), records the message of a failure, returns the status.
pub(crate) fn guard(f: impl FnOnce() -> FfiResult<()>) -> sv_status {
    let _in_call = InCall::enter();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error("");
            SV_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            let at = PANIC_AT.lock().ok().and_then(|mut g| g.take());
            set_last_error(&format!(
                "internal error (please report): {what}{}",
                at.map_or_else(String::new, |a| format!(" {a}"))
            ));
            SV_E_PANIC
        }
    }
}

/// A NUL-terminated UTF-8 argument.
pub(crate) fn str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: the caller passes a NUL-terminated string that outlives the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| Failure::new(SV_E_UTF8, format!("{what} is not valid UTF-8")))
}

/// An optional NUL-terminated UTF-8 argument (NULL is None).
pub(crate) fn opt_str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, what).map(Some)
    }
}

/// Writes a handle to an out-pointer.
pub(crate) fn put<T>(out: *mut *mut T, value: T) {
    // SAFETY: `out` was checked non-NULL by the caller of `put`.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

pub(crate) fn check_out<T>(out: *mut T, what: &str) -> FfiResult<()> {
    if out.is_null() {
        Err(Failure::null(what))
    } else {
        Ok(())
    }
}

/// The progress closure the engine calls: relays to the C callback and honours the token.
pub(crate) fn progress_adapter(
    cb: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
) -> impl FnMut(&Progress) -> bool {
    // SAFETY: a non-NULL token is a live handle for the duration of the call.
    let flag = (!cancel.is_null()).then(|| unsafe { (*cancel).flag.clone() });
    let mut stage_c: Vec<(&'static str, CString)> = Vec::new();
    move |p: &Progress| {
        if flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
            return false;
        }
        let Some(f) = cb else { return true };
        let stage = match stage_c.iter().find(|(s, _)| *s == p.stage) {
            Some((_, c)) => c.as_ptr(),
            None => {
                stage_c.push((p.stage, CString::new(p.stage).unwrap_or_default()));
                stage_c[stage_c.len() - 1].1.as_ptr()
            }
        };
        // SAFETY: the caller's callback, called on the calling thread with valid arguments.
        let r = unsafe { f(user, stage, p.done as u64, p.total as u64, p.loss) };
        r == 0 && !flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

struct LogSink {
    f: unsafe extern "C" fn(*mut c_void, i32, *const c_char),
    min_level: i32,
    user: *mut c_void,
}
// SAFETY: the caller promises (in the header) that the callback may be called from any thread
// that calls into the library; the pointer is only handed back to it.
unsafe impl Send for LogSink {}

static LOG: Mutex<Option<LogSink>> = Mutex::new(None);

/// Sends a message to the log callback, if one is set (the library never prints). The lock
/// is released before the callback runs: a callback may itself call `sv_set_log_callback`.
pub(crate) fn log(level: i32, message: &str) {
    let sink = match LOG.lock() {
        Ok(g) => g
            .as_ref()
            .filter(|s| level >= s.min_level)
            .map(|s| (s.f, s.user)),
        Err(_) => None,
    };
    if let Some((f, user)) = sink {
        let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: the registered callback with a valid NUL-terminated message.
        unsafe { f(user, level, c.as_ptr()) };
    }
}

/// The message of the last failed call on this thread ("" after a successful call). The
/// pointer stays valid until the next synthvol call on this thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn sv_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The ABI version of the library (compare with `SV_ABI_VERSION` from the header).
#[no_mangle]
pub extern "C" fn sv_abi_version() -> u32 {
    SV_ABI_VERSION
}

/// The library's version, e.g. "0.1.0" (static storage).
#[no_mangle]
pub extern "C" fn sv_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Sets (or, with NULL, removes) the log callback that receives the library's notices at
/// `min_level` (`SV_LOG_INFO` or `SV_LOG_WARNING`) and above, for example levels added by a
/// fine-tuning; the library itself never prints. Process-wide; the callback is called on the
/// thread whose call produced the notice, so it must be safe to call from any thread that
/// calls synthvol.
#[no_mangle]
pub extern "C" fn sv_set_log_callback(
    callback: sv_log_fn,
    min_level: i32,
    user: *mut c_void,
) -> sv_status {
    guard(|| {
        if !(SV_LOG_INFO..=SV_LOG_WARNING).contains(&min_level) {
            return Err(Failure::invalid(format!(
                "min_level {min_level} is not a log level (SV_LOG_INFO = {SV_LOG_INFO}, SV_LOG_WARNING = {SV_LOG_WARNING})"
            )));
        }
        let mut g = LOG
            .lock()
            .map_err(|_| Failure::new(SV_E_PANIC, "the log callback lock is poisoned"))?;
        *g = callback.map(|f| LogSink { f, min_level, user });
        Ok(())
    })
}

/// Creates a cancel token. Free it with `sv_cancel_free` after the calls using it returned.
#[no_mangle]
pub extern "C" fn sv_cancel_new(out: *mut *mut sv_cancel) -> sv_status {
    guard(|| {
        check_out(out, "out")?;
        put(
            out,
            sv_cancel {
                flag: Arc::new(AtomicBool::new(false)),
            },
        );
        Ok(())
    })
}

/// Asks every call using this token to stop; safe from any thread, any number of times.
#[no_mangle]
pub extern "C" fn sv_cancel_request(token: *const sv_cancel) {
    if !token.is_null() {
        // SAFETY: a live token handle.
        unsafe { (*token).flag.store(true, Ordering::Relaxed) };
    }
}

/// Frees a cancel token (NULL is allowed).
#[no_mangle]
pub extern "C" fn sv_cancel_free(token: *mut sv_cancel) {
    if !token.is_null() {
        // SAFETY: a handle made by sv_cancel_new, freed once.
        drop(unsafe { Box::from_raw(token) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: the library's thread-local message.
        unsafe { CStr::from_ptr(sv_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_is_a_status_with_its_place_and_backtrace() {
        let s = guard(|| panic!("boom in a test"));
        assert_eq!(s, SV_E_PANIC);
        let m = last_error();
        assert!(m.contains("boom in a test"), "{m}");
        assert!(m.contains("src/ffi/mod.rs:"), "{m}");
        assert!(m.contains("backtrace"), "{m}");
        // A panic on a worker thread of the call is caught the same way.
        let s = guard(|| {
            std::thread::scope(|sc| sc.spawn(|| panic!("worker boom")).join())
                .map_err(|_| Failure::new(SV_E_PANIC, "a worker panicked"))
        });
        assert_eq!(s, SV_E_PANIC);
        assert_eq!(guard(|| Ok(())), SV_OK);
        assert_eq!(last_error(), "");
    }

    /// The child half of the test below: panics inside an entry point.
    #[test]
    fn panic_inside_a_call_child() {
        if std::env::var_os("SV_PANIC_CHILD").is_some() {
            assert_eq!(guard(|| panic!("child boom")), SV_E_PANIC);
        }
    }

    #[test]
    fn a_panic_inside_a_call_prints_nothing_on_stderr() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "ffi::tests::panic_inside_a_call_child",
                "--nocapture",
            ])
            .env("SV_PANIC_CHILD", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("child boom"),
            "{err}"
        );
    }

    #[test]
    fn a_log_callback_may_set_the_log_callback() {
        unsafe extern "C" fn cb(_: *mut c_void, _: i32, _: *const c_char) {
            // Re-registering from inside the callback must not deadlock.
            sv_set_log_callback(None, SV_LOG_INFO, std::ptr::null_mut());
        }
        assert_eq!(
            sv_set_log_callback(Some(cb), SV_LOG_INFO, std::ptr::null_mut()),
            SV_OK
        );
        log(SV_LOG_INFO, "hello");
        assert!(LOG.lock().unwrap().is_none());
    }
}
