//! synthvol: a tabular diffusion synthesizer (TabDDPM) with differential privacy, for the
//! "Syn" workflow (pre-train on related data, fine-tune on a small sensitive sample, generate a
//! tuned volume of synthetic rows, analyse them honestly).
//!
//! # The API
//!
//! - [`table`]: schemas and columnar tables with missing values, CSV in and out, the public
//!   schema of private fits.
//! - [`model`]: [`Synthesizer`] — [`Synthesizer::fit`] and [`Synthesizer::fine_tune`] take a
//!   [`FitRequest`] (every option optional; the engine checks it and fills the defaults),
//!   [`Synthesizer::sample`] draws rows, and models save, load and serialise.
//! - [`metrics`]: the evaluation report (fidelity, utility, privacy risk).
//! - [`syn`]: volume tuning, Syn-Test and inference with corrected standard errors.
//! - [`privacy`]: the Rényi accountant, ε of a DP-SGD plan, the empirical audit.
//! - [`Device`] (`auto`, `cpu`, `cuda:N`), [`progress`] reports and cancellation, [`Error`].
//! - [`datasets`] (the bundled Adult data) and [`demo`] (the demo's recipe).
//! - The C ABI (`include/synthvol.h`) is the contract of every other language's binding.
//!
//! Layers, in the order data flow through them (see DESIGN.md): table → encode → diffusion →
//! nn → backend → train → model → syn and metrics → the C ABI and the command line. Only the
//! modules above are public; the others are the engine's own.

pub(crate) mod backend;
pub(crate) mod csprng;
pub mod datasets;
pub mod demo;
pub(crate) mod diffusion;
pub(crate) mod encode;
pub mod error;
pub(crate) mod fastmath;
pub(crate) mod ffi;
pub mod files;
pub mod limits;
pub mod metrics;
pub mod model;
pub(crate) mod nn;
pub(crate) mod options;
pub mod privacy;
pub mod progress;
pub(crate) mod rng;
pub(crate) mod stats;
pub mod syn;
pub mod table;
pub(crate) mod train;

pub use backend::Device;
pub use error::{Error, ErrorKind, Result};
pub use model::{FitRequest, SampleOptions, Synthesizer};
pub use progress::{Progress, ProgressFn};

/// The C header that cbindgen generates from the C ABI in this build (a test compares it with
/// the committed `include/synthvol.h`).
#[doc(hidden)]
pub const GENERATED_C_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/synthvol.h"));

/// The engine's inner layers, for synthvol's own tests, benchmarks and examples only (the
/// `internals` feature, which the package's dev-dependency on itself turns on). Not part of the
/// API: anything here may change in any release.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub mod backend {
        pub use crate::backend::*;
    }
    pub mod csprng {
        pub use crate::csprng::*;
    }
    pub mod diffusion {
        pub use crate::diffusion::*;
    }
    pub mod fastmath {
        pub use crate::fastmath::*;
    }
    pub mod encode {
        pub use crate::encode::*;
    }
    pub mod ffi {
        pub use crate::ffi::*;
    }
    pub mod nn {
        pub use crate::nn::*;
    }
    pub mod rng {
        pub use crate::rng::*;
    }
    pub mod stats {
        pub use crate::stats::*;
    }
    pub mod train {
        pub use crate::train::*;
    }
    pub use crate::model::sampler::{upload_weights, Sampler};
}

// Link OpenBLAS (BLAS and LAPACK) for ndarray's GEMMs and ndarray-linalg.
extern crate blas_src;
extern crate openblas_src;

/// Compiles the README's Rust example.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
