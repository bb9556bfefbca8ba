//! OpenBLAS's process-wide settings: its thread count, and which kernels it runs (reported by
//! the benchmarks, since `OPENBLAS_CORETYPE` can make it run older kernels than the CPU has).

use std::ffi::{c_char, c_int, CStr};

// blas_kernels serves the benchmarks (through the internals) and a unit test.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
    fn openblas_get_corename() -> *const c_char;
}

/// Sets the number of OpenBLAS threads (process-wide; OpenBLAS has no per-call setting).
pub fn set_blas_threads(n: usize) {
    // SAFETY: plain setter of OpenBLAS's global thread count.
    unsafe { openblas_set_num_threads(n.max(1) as c_int) }
}

/// The current number of OpenBLAS threads.
pub fn blas_threads() -> usize {
    // SAFETY: plain getter.
    unsafe { openblas_get_num_threads() as usize }
}

/// The name of the kernel family OpenBLAS runs ("Cooperlake", "Haswell", ...).
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub fn blas_kernels() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string (or null).
    unsafe {
        let p = openblas_get_corename();
        if p.is_null() {
            return "unknown".into();
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_threads_and_kernels() {
        let name = blas_kernels();
        assert!(!name.is_empty() && name.is_ascii(), "{name:?}");
        // OpenBLAS honours a forced kernel family by name (case-insensitively).
        if let Some(forced) = std::env::var_os("OPENBLAS_CORETYPE") {
            assert!(
                forced.to_string_lossy().eq_ignore_ascii_case(&name),
                "{name}"
            );
        }
        let n = blas_threads();
        set_blas_threads(1);
        assert_eq!(blas_threads(), 1);
        set_blas_threads(n);
        assert_eq!(blas_threads(), n);
    }
}
