//! synthvol: a tabular diffusion synthesizer (TabDDPM) with differential privacy.
//!
//! Layers, in the order data flow through them (see DESIGN.md): [`table`] → [`encode`] →
//! [`diffusion`] → [`nn`] → [`backend`] → [`train`] → [`model`] → [`metrics`].

pub mod backend;
pub mod csprng;
pub mod datasets;
pub mod demo;
pub mod diffusion;
pub mod encode;
pub mod error;
pub mod fastmath;
pub mod ffi;
pub mod files;
pub mod limits;

/// The C header that cbindgen generates from [`ffi`] in this build (tests compare it with the
/// committed `include/synthvol.h`).
#[doc(hidden)]
pub const GENERATED_C_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/synthvol.h"));
pub mod metrics;
pub mod model;
pub mod nn;
pub mod options;
pub mod privacy;
pub mod progress;
pub mod rng;
pub mod stats;
pub mod syn;
pub mod table;
pub mod train;

pub use error::{Error, ErrorKind, Result};

// Link OpenBLAS (BLAS and LAPACK) for ndarray's GEMMs and ndarray-linalg.
extern crate blas_src;
extern crate openblas_src;

/// Compiles the README's Rust example.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
