//! `sv_bytes`: an owned byte buffer handed to C (serialised models, JSON reports).

/// Owned bytes made by the library. Read with `sv_bytes_data` / `sv_bytes_len`; free with
/// `sv_bytes_free`. JSON results are UTF-8 and also NUL-terminated (not counted in the length).
pub struct sv_bytes {
    pub(crate) data: Vec<u8>,
    pub(crate) len: usize,
}

impl sv_bytes {
    /// Binary data.
    pub(crate) fn binary(data: Vec<u8>) -> Self {
        let len = data.len();
        sv_bytes { data, len }
    }
    /// Text, with a NUL after it so that C can use it as a string.
    pub(crate) fn text(s: String) -> Self {
        let len = s.len();
        let mut data = s.into_bytes();
        data.push(0);
        sv_bytes { data, len }
    }
}

/// The first byte (valid until `sv_bytes_free`); NULL for a NULL handle.
#[no_mangle]
pub extern "C" fn sv_bytes_data(bytes: *const sv_bytes) -> *const u8 {
    if bytes.is_null() {
        return std::ptr::null();
    }
    // SAFETY: a live handle.
    unsafe { (*bytes).data.as_ptr() }
}

/// The number of bytes (0 for a NULL handle).
#[no_mangle]
pub extern "C" fn sv_bytes_len(bytes: *const sv_bytes) -> usize {
    if bytes.is_null() {
        return 0;
    }
    // SAFETY: a live handle.
    unsafe { (*bytes).len }
}

/// Frees bytes (NULL is allowed).
#[no_mangle]
pub extern "C" fn sv_bytes_free(bytes: *mut sv_bytes) {
    if !bytes.is_null() {
        // SAFETY: a handle made by the library, freed once.
        drop(unsafe { Box::from_raw(bytes) });
    }
}
