//! The kernel sources, compiled into the crate: one `.cu` file per family and the headers they
//! share (whose arithmetic also compiles as host C++ for tests/kernels/host_parity.cpp).

use super::nvrtc::Nvrtc;
use crate::error::Result;

/// The headers, by the name the kernels `#include`.
pub const HEADERS: [(&str, &str); 5] = [
    (
        "sv_device.cuh",
        include_str!("../../../kernels/include/sv_device.cuh"),
    ),
    (
        "sv_math.cuh",
        include_str!("../../../kernels/include/sv_math.cuh"),
    ),
    (
        "sv_rng.cuh",
        include_str!("../../../kernels/include/sv_rng.cuh"),
    ),
    (
        "sv_diffusion.cuh",
        include_str!("../../../kernels/include/sv_diffusion.cuh"),
    ),
    (
        "sv_chacha20.cuh",
        include_str!("../../../kernels/include/sv_chacha20.cuh"),
    ),
];

/// The kernel families.
pub const FAMILIES: [(&str, &str); 6] = [
    (
        "elementwise.cu",
        include_str!("../../../kernels/elementwise.cu"),
    ),
    (
        "optimizer.cu",
        include_str!("../../../kernels/optimizer.cu"),
    ),
    ("dp.cu", include_str!("../../../kernels/dp.cu")),
    ("reduce.cu", include_str!("../../../kernels/reduce.cu")),
    (
        "diffusion.cu",
        include_str!("../../../kernels/diffusion.cu"),
    ),
    ("random.cu", include_str!("../../../kernels/random.cu")),
];

/// The virtual architectures the kernels are built for: Ampere (A100) and Hopper (H100/H200).
pub const ARCHS: [&str; 2] = ["compute_80", "compute_90"];

/// The kernels a family's source defines (`extern "C" __global__ void name(`).
pub fn entry_points(source: &str) -> Vec<String> {
    let marker = "extern \"C\" __global__ void ";
    source
        .match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &source[i + marker.len()..];
            rest.find('(').map(|j| rest[..j].trim().to_string())
        })
        .collect()
}

/// Every family compiled for `arch`, as (file, PTX).
pub fn compile_all(nvrtc: &Nvrtc, arch: &str) -> Result<Vec<(&'static str, String)>> {
    FAMILIES
        .iter()
        .map(|(name, src)| Ok((*name, nvrtc.compile(name, src, &HEADERS, arch)?)))
        .collect()
}
