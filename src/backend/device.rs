//! Where work runs: the device choice, and the one place that turns it into a backend.
//! Nothing above this module names a concrete backend; the model layer hands a [`Job`] to
//! [`run_job`], which runs it on the backend the device resolves to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{run_parallel, CpuBackend, DiffusionOps};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn};
use crate::table::Table;

/// A compute device: `auto` (a GPU when one is usable, else the CPU), `cpu`, or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// GPU 0 when a driver and a device are present, this build has the GPU backend and its
    /// start-up self-test agrees with the CPU backend; otherwise the CPU. Never an error.
    #[default]
    Auto,
    /// The CPU backend (OpenBLAS and rayon).
    Cpu,
    /// CUDA device N.
    Cuda(u32),
}

impl Device {
    /// Whether this is [`Device::Auto`].
    pub fn is_auto(&self) -> bool {
        *self == Device::Auto
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Device> {
        let bad = || {
            Error::invalid(format!(
                "option 'device' must be \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", got '{s}'"
            ))
        };
        match s.trim() {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            other => {
                let n = other.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse::<u32>().map(Device::Cuda).map_err(|_| bad())
            }
        }
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Device, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message))
    }
}

/// Work that runs on whichever backend a device resolves to (written once, generic over the
/// backend).
pub trait Job: Send {
    type Output: Send;
    /// Runs on `be`; reports progress and hands over rows through `relay` (a `false` answer
    /// asks it to stop with [`Error::cancelled`]).
    fn run<B: DiffusionOps>(self, be: &B, relay: &mut Relay<'_>) -> Result<Self::Output>;
}

/// What a job sends to the calling thread while it runs.
#[derive(Clone)]
pub enum Event {
    Progress(Progress),
    /// Rows produced (a sampling's decoded block), for the caller's sink.
    Rows(Arc<Table>),
}

/// A job's line to the calling thread, which runs the progress callback and the row sink.
pub struct Relay<'a> {
    send: &'a mut dyn FnMut(&Event) -> bool,
}

impl<'r> Relay<'r> {
    /// Reports progress; `false` means stop.
    pub fn progress(&mut self, p: &Progress) -> bool {
        (self.send)(&Event::Progress(*p))
    }

    /// Hands rows to the caller's sink; `false` means stop (the sink failed or the caller
    /// cancelled).
    pub fn rows(&mut self, t: Table) -> bool {
        (self.send)(&Event::Rows(Arc::new(t)))
    }

    /// The progress half as a progress callback.
    pub fn progress_fn<'s>(&'s mut self) -> impl FnMut(&Progress) -> bool + use<'s, 'r> {
        move |p| self.progress(p)
    }
}

/// Where a job's rows go on the calling thread (an error stops the job and is returned).
pub type RowSink<'a> = &'a mut dyn FnMut(&Table) -> Result<()>;

/// What a job produced and where it ran.
pub struct Ran<T> {
    pub output: T,
    /// The backend's name ("cpu", "cuda:0"), as models record it.
    pub backend: String,
}

/// Runs `job` on `device` with `threads` host threads (0: all cores), relaying progress
/// reports to `progress` on the calling thread. `cuda` that cannot run (no driver, no such
/// device, a missing library, a build without the `cuda` feature) is a
/// [`crate::error::ErrorKind::Device`] error; `auto` then means the CPU.
pub fn run_job<J: Job>(
    device: Device,
    threads: usize,
    progress: ProgressFn,
    job: J,
) -> Result<Ran<J::Output>> {
    run_job_with_rows(device, threads, progress, None, job)
}

/// [`run_job`] for a job that also produces rows: `sink` receives them on the calling thread,
/// in order.
pub fn run_job_with_rows<J: Job>(
    device: Device,
    threads: usize,
    progress: ProgressFn,
    mut sink: Option<RowSink<'_>>,
    job: J,
) -> Result<Ran<J::Output>> {
    let mut sink_error: Option<Error> = None;
    let mut on_event = |e: &Event| match e {
        Event::Progress(p) => progress(p),
        Event::Rows(t) => match sink.as_mut() {
            Some(s) => match s(t) {
                Ok(()) => true,
                Err(err) => {
                    sink_error = Some(err);
                    false
                }
            },
            None => true,
        },
    };
    let result = match resolve(device)? {
        Resolved::Cpu => {
            let be = CpuBackend::<f32>::new();
            run_parallel(threads, &mut on_event, |send| {
                job.run(&be, &mut Relay { send })
            })
            .and_then(|r| r)
            .map(|output| Ran {
                output,
                backend: super::Backend::name(&be),
            })
        }
        #[cfg(feature = "cuda")]
        Resolved::Cuda(be) => {
            // One job at a time on a GPU: its stream and cuBLAS handle are shared.
            let _one = be.1.lock().unwrap_or_else(|p| p.into_inner());
            let gpu = &be.0;
            run_parallel(threads, &mut on_event, |send| {
                job.run(gpu, &mut Relay { send })
            })
            .and_then(|r| r)
            .map(|output| Ran {
                output,
                backend: super::Backend::name(gpu),
            })
        }
    };
    // The sink's own error explains a stop better than "cancelled".
    match (result, sink_error) {
        (Err(_), Some(e)) => Err(e),
        (r, _) => r,
    }
}

/// The backend a device resolves to.
enum Resolved {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(Arc<GpuSlot>),
}

/// A GPU backend, opened once per process and device, with the lock its jobs take.
#[cfg(feature = "cuda")]
type GpuSlot = (super::cuda::CudaBackend, std::sync::Mutex<()>);

#[cfg(feature = "cuda")]
fn gpu(ordinal: u32) -> Result<Arc<GpuSlot>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static OPEN: OnceLock<Mutex<HashMap<u32, Arc<GpuSlot>>>> = OnceLock::new();
    let open = OPEN.get_or_init(Default::default);
    let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(g) = open.get(&ordinal) {
        return Ok(g.clone());
    }
    // cudarc panics where a CUDA library lacks a symbol it wants (an older driver or
    // toolkit): opening the backend touches most of them, so a panic there is a device error.
    let opened = std::panic::catch_unwind(|| super::cuda::CudaBackend::new(ordinal as usize))
        .unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(Error::device(format!(
                "device 'cuda:{ordinal}' was asked for, but its CUDA libraries failed to load \
                 ({why}); update the NVIDIA driver and the CUDA libraries, or use device \
                 \"cpu\""
            )))
        });
    let g = Arc::new((opened?, Mutex::new(())));
    open.insert(ordinal, g.clone());
    Ok(g)
}

/// `auto`'s choice, made once per process: GPU 0 when a driver reports a device, the backend
/// opens (driver, cuBLAS, NVRTC, kernels) and its self-test agrees with the CPU; otherwise the
/// CPU, whatever went wrong (`auto` is never an error).
#[cfg(feature = "cuda")]
fn auto_gpu() -> Option<Arc<GpuSlot>> {
    use std::sync::OnceLock;
    static CHOICE: OnceLock<Option<Arc<GpuSlot>>> = OnceLock::new();
    CHOICE
        .get_or_init(|| {
            let super::cuda::Probe::Driver { devices: 1.., .. } = super::cuda::probe() else {
                return None;
            };
            let g = gpu(0).ok()?;
            let tested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.0.self_test()));
            matches!(tested, Ok(Ok(()))).then_some(g)
        })
        .clone()
}

fn resolve(device: Device) -> Result<Resolved> {
    match device {
        Device::Cpu => Ok(Resolved::Cpu),
        #[cfg(feature = "cuda")]
        Device::Auto => Ok(auto_gpu().map_or(Resolved::Cpu, Resolved::Cuda)),
        #[cfg(feature = "cuda")]
        Device::Cuda(n) => gpu(n).map(Resolved::Cuda),
        #[cfg(not(feature = "cuda"))]
        Device::Auto => Ok(Resolved::Cpu),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(n) => Err(Error::device(format!(
            "device 'cuda:{n}' was asked for, but this build of synthvol has no GPU backend \
             (it was built without the `cuda` feature); this machine has {}; use device \
             \"cpu\" or \"auto\"",
            super::cuda::probe()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print_back() {
        for (s, d) in [
            ("auto", Device::Auto),
            ("cpu", Device::Cpu),
            ("cuda", Device::Cuda(0)),
            ("cuda:3", Device::Cuda(3)),
        ] {
            assert_eq!(s.parse::<Device>().unwrap(), d);
            let back: Device = d.to_string().parse().unwrap();
            assert_eq!(back, d);
        }
        for bad in ["", "gpu:1", "cuda:", "cuda:-1", "tpu", "CPU"] {
            let e = bad.parse::<Device>().unwrap_err();
            assert!(
                e.message.contains("option 'device'"),
                "{bad}: {}",
                e.message
            );
        }
        let d: Device = serde_json::from_str("\"cuda:1\"").unwrap();
        assert_eq!(d, Device::Cuda(1));
        assert!(serde_json::from_str::<Device>("\"nope\"").is_err());
    }

    #[test]
    fn cuda_without_a_gpu_backend_is_a_device_error() {
        struct Nothing;
        impl Job for Nothing {
            type Output = ();
            fn run<B: DiffusionOps>(self, _: &B, _: &mut Relay<'_>) -> Result<()> {
                Ok(())
            }
        }
        let e = run_job(Device::Cuda(0), 1, &mut |_| true, Nothing)
            .err()
            .expect("no CUDA backend");
        assert_eq!(e.kind, crate::error::ErrorKind::Device);
        let ran = run_job(Device::Auto, 1, &mut |_| true, Nothing).unwrap();
        assert_eq!(ran.backend, "cpu");
    }
}
