//! Is there a usable NVIDIA driver and GPU? Asked through the driver API opened with dlopen
//! (libcuda.so.1), so a machine without CUDA gets an answer, never a crash.

use std::ffi::c_int;

/// What the driver says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No driver library, or it does not initialise (the reason, for messages).
    NoDriver(String),
    /// A driver of this CUDA version (e.g. 12040) with this many devices.
    Driver { version: i32, devices: i32 },
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::NoDriver(why) => write!(f, "no usable NVIDIA driver ({why})"),
            Probe::Driver { version, devices } => write!(
                f,
                "an NVIDIA driver for CUDA {}.{} with {devices} GPU(s)",
                version / 1000,
                (version % 1000) / 10
            ),
        }
    }
}

type CuInit = unsafe extern "C" fn(u32) -> c_int;
type CuGetCount = unsafe extern "C" fn(*mut c_int) -> c_int;
type CuDriverVersion = unsafe extern "C" fn(*mut c_int) -> c_int;

/// Opens the driver library and asks it for its version and device count.
pub fn probe() -> Probe {
    let Some(lib) = super::nvrtc::Library::open(&["libcuda.so.1", "libcuda.so"]) else {
        return Probe::NoDriver("libcuda.so.1 is not on this machine".into());
    };
    let (Some(init), Some(count), Some(version)) = (
        lib.symbol::<CuInit>(c"cuInit"),
        lib.symbol::<CuGetCount>(c"cuDeviceGetCount"),
        lib.symbol::<CuDriverVersion>(c"cuDriverGetVersion"),
    ) else {
        return Probe::NoDriver("libcuda.so.1 lacks the driver API".into());
    };
    // SAFETY: the driver API's documented signatures; out-pointers to locals.
    unsafe {
        let rc = init(0);
        if rc != 0 {
            return Probe::NoDriver(format!("cuInit failed with CUDA error {rc}"));
        }
        let (mut v, mut n) = (0 as c_int, 0 as c_int);
        if version(&mut v) != 0 || count(&mut n) != 0 {
            return Probe::NoDriver("the driver does not report its devices".into());
        }
        Probe::Driver {
            version: v,
            devices: n,
        }
    }
}
