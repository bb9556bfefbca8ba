//! NVRTC, opened with dlopen when kernels are compiled: one program per kernel family, with the
//! shared headers, for a virtual architecture (`compute_80`, `compute_90`), giving PTX.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::error::{Error, Result};

/// A shared library opened with `dlopen` (never closed: its functions may be cached).
pub struct Library {
    handle: *mut c_void,
    /// The name or path it was opened by.
    pub name: String,
}

// SAFETY: a dlopen handle may be used from any thread.
unsafe impl Send for Library {}
unsafe impl Sync for Library {}

impl Library {
    /// The first of `names` that `dlopen` opens, or `None`.
    pub fn open(names: &[&str]) -> Option<Library> {
        for name in names {
            let c = CString::new(*name).ok()?;
            // SAFETY: a NUL-terminated name; dlopen reports failure with NULL.
            let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if !handle.is_null() {
                return Some(Library {
                    handle,
                    name: (*name).to_string(),
                });
            }
        }
        None
    }

    /// The symbol `name` as a function pointer of type `F`, or `None`.
    pub fn symbol<F: Copy>(&self, name: &CStr) -> Option<F> {
        assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
        // SAFETY: a live handle and a NUL-terminated name.
        let p = unsafe { libc::dlsym(self.handle, name.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: F is a function pointer type of the symbol's signature (the caller's word).
        Some(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) })
    }
}

type Program = *mut c_void;
type CreateFn = unsafe extern "C" fn(
    *mut Program,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> c_int;
type CompileFn = unsafe extern "C" fn(Program, c_int, *const *const c_char) -> c_int;
type SizeFn = unsafe extern "C" fn(Program, *mut usize) -> c_int;
type GetFn = unsafe extern "C" fn(Program, *mut c_char) -> c_int;
type DestroyFn = unsafe extern "C" fn(*mut Program) -> c_int;
type VersionFn = unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int;

/// The NVRTC library's entry points.
pub struct Nvrtc {
    lib: Library,
    create: CreateFn,
    compile: CompileFn,
    log_size: SizeFn,
    log: GetFn,
    ptx_size: SizeFn,
    ptx: GetFn,
    destroy: DestroyFn,
    version: VersionFn,
}

/// Where NVRTC is looked for: `SYNTHVOL_NVRTC` (a path), then the loader's search path.
pub fn candidates() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("SYNTHVOL_NVRTC") {
        out.push(p);
    }
    out.extend(["libnvrtc.so.12", "libnvrtc.so.13", "libnvrtc.so"].map(String::from));
    out
}

impl Nvrtc {
    /// Opens NVRTC from `names` (see [`candidates`]); a device error names what was tried.
    pub fn load(names: &[String]) -> Result<Nvrtc> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let lib = Library::open(&refs).ok_or_else(|| {
            Error::device(format!(
                "NVRTC (the CUDA run-time compiler) is not on this machine (tried {}); install \
                 the CUDA toolkit or the nvidia-cuda-nvrtc wheel and set SYNTHVOL_NVRTC to \
                 libnvrtc.so.12",
                refs.join(", ")
            ))
        })?;
        let missing = |what: &str| Error::device(format!("{} lacks {what}", lib.name));
        Ok(Nvrtc {
            create: lib
                .symbol(c"nvrtcCreateProgram")
                .ok_or_else(|| missing("nvrtcCreateProgram"))?,
            compile: lib
                .symbol(c"nvrtcCompileProgram")
                .ok_or_else(|| missing("nvrtcCompileProgram"))?,
            log_size: lib
                .symbol(c"nvrtcGetProgramLogSize")
                .ok_or_else(|| missing("nvrtcGetProgramLogSize"))?,
            log: lib
                .symbol(c"nvrtcGetProgramLog")
                .ok_or_else(|| missing("nvrtcGetProgramLog"))?,
            ptx_size: lib
                .symbol(c"nvrtcGetPTXSize")
                .ok_or_else(|| missing("nvrtcGetPTXSize"))?,
            ptx: lib
                .symbol(c"nvrtcGetPTX")
                .ok_or_else(|| missing("nvrtcGetPTX"))?,
            destroy: lib
                .symbol(c"nvrtcDestroyProgram")
                .ok_or_else(|| missing("nvrtcDestroyProgram"))?,
            version: lib
                .symbol(c"nvrtcVersion")
                .ok_or_else(|| missing("nvrtcVersion"))?,
            lib,
        })
    }

    /// The library's name or path.
    pub fn name(&self) -> &str {
        &self.lib.name
    }

    /// NVRTC's CUDA version (major, minor).
    pub fn version(&self) -> (i32, i32) {
        let (mut a, mut b) = (0, 0);
        // SAFETY: out-pointers to locals.
        unsafe { (self.version)(&mut a, &mut b) };
        (a, b)
    }

    /// Compiles `source` (named `name`, with `headers` as (name, text) for its `#include`s)
    /// for `arch` (e.g. "compute_80") into PTX; a compile error carries NVRTC's log.
    pub fn compile(
        &self,
        name: &str,
        source: &str,
        headers: &[(&str, &str)],
        arch: &str,
    ) -> Result<String> {
        let cstr = |s: &str| {
            CString::new(s).map_err(|_| Error::invalid(format!("'{name}' contains a NUL byte")))
        };
        let src = cstr(source)?;
        let cname = cstr(name)?;
        let hsrc = headers
            .iter()
            .map(|(_, t)| cstr(t))
            .collect::<Result<Vec<_>>>()?;
        let hname = headers
            .iter()
            .map(|(n, _)| cstr(n))
            .collect::<Result<Vec<_>>>()?;
        let hsrc_p: Vec<*const c_char> = hsrc.iter().map(|c| c.as_ptr()).collect();
        let hname_p: Vec<*const c_char> = hname.iter().map(|c| c.as_ptr()).collect();
        let opts = [
            cstr(&format!("--gpu-architecture={arch}"))?,
            cstr("--std=c++17")?,
            cstr("--fmad=false")?, // the same rounding as the host arithmetic it is tested against
        ];
        let opts_p: Vec<*const c_char> = opts.iter().map(|c| c.as_ptr()).collect();
        let mut prog: Program = std::ptr::null_mut();
        // SAFETY: NUL-terminated strings and arrays that outlive the calls; NVRTC's signatures.
        unsafe {
            let rc = (self.create)(
                &mut prog,
                src.as_ptr(),
                cname.as_ptr(),
                headers.len() as c_int,
                hsrc_p.as_ptr(),
                hname_p.as_ptr(),
            );
            if rc != 0 {
                return Err(Error::device(format!(
                    "NVRTC could not create the program {name} (error {rc})"
                )));
            }
            let rc = (self.compile)(prog, opts_p.len() as c_int, opts_p.as_ptr());
            let mut n = 0usize;
            (self.log_size)(prog, &mut n);
            let mut log = vec![0u8; n.max(1)];
            (self.log)(prog, log.as_mut_ptr() as *mut c_char);
            let log = String::from_utf8_lossy(&log[..n.saturating_sub(1)]).into_owned();
            if rc != 0 {
                (self.destroy)(&mut prog);
                return Err(Error::device(format!(
                    "NVRTC could not compile {name} for {arch}:\n{log}"
                )));
            }
            let mut m = 0usize;
            (self.ptx_size)(prog, &mut m);
            let mut ptx = vec![0u8; m.max(1)];
            (self.ptx)(prog, ptx.as_mut_ptr() as *mut c_char);
            (self.destroy)(&mut prog);
            Ok(String::from_utf8_lossy(&ptx[..m.saturating_sub(1)]).into_owned())
        }
    }
}
