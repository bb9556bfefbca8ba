//! The CUDA backend: the kernels (`kernels/*.cu`, one file per family, their arithmetic in
//! `kernels/include/*.cuh`, which also compiles as host C++ for the parity tests), their
//! run-time compilation with NVRTC, the driver probe that `device` uses, the kernels'
//! parameter blocks, and (feature `cuda`) the launchers: [`CudaBackend`], the `Backend` and
//! `DiffusionOps` implementations over cuBLAS. Every CUDA library is opened at run time, so
//! the crate builds and runs on machines with no CUDA at all, and probing never panics.

// Without the launchers (no `cuda` feature) the kernels and NVRTC serve only the tests.
#![cfg_attr(
    not(any(feature = "cuda", feature = "internals")),
    allow(dead_code, unused_imports)
)]

pub mod kernels;
#[cfg(feature = "cuda")]
mod launch;
pub mod nvrtc;
pub mod params;
mod probe;

#[cfg(feature = "cuda")]
pub use launch::CudaBackend;
pub use probe::{probe, Probe};
