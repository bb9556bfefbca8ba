//! The CUDA backend, built up in stages. This stage holds what runs without a GPU: the kernels
//! (`kernels/*.cu`, one file per family, their arithmetic in `kernels/include/*.cuh`, which
//! also compiles as host C++), their run-time compilation with NVRTC, and the driver probe that
//! `device` uses. Both libraries are opened with `dlopen` only when asked for, so the crate
//! builds and runs on machines with no CUDA at all, and probing never panics. The launchers
//! (the `Backend` and `DiffusionOps` implementations over cuBLAS) come next.

// Until the launchers use them, the kernels and NVRTC serve the tests (tests/kernels.rs).
#![cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]

pub mod kernels;
pub mod nvrtc;
mod probe;

pub use probe::{probe, Probe};
