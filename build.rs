//! Build script. It records the target the library is built for (kept in every model's
//! training record, so a model says which build fitted it) and generates the C header from
//! `src/ffi` with cbindgen into OUT_DIR; `tests/header.rs` fails when it differs from the
//! committed `include/synthvol.h`. `SYNTHVOL_WRITE_HEADER=1 cargo build` rewrites that file.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-env-changed=SYNTHVOL_WRITE_HEADER");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=SYNTHVOL_TARGET={target}");

    // The shared library's soname carries the ABI version (libsynthvol.so.N): a host built
    // against ABI N never loads a library of another ABI by accident.
    let root_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ffi = std::fs::read_to_string(root_dir.join("src/ffi/mod.rs")).expect("src/ffi/mod.rs");
    let abi = ffi
        .lines()
        .find_map(|l| l.strip_prefix("pub const SV_ABI_VERSION: u32 = "))
        .and_then(|v| v.trim_end_matches(';').trim().parse::<u32>().ok())
        .expect("SV_ABI_VERSION in src/ffi/mod.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsynthvol.so.{abi}");
    }

    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("synthvol.h");
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    // Only the C ABI module: the rest of the crate is not part of the contract.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("generating the C header: {e}"));
    bindings.write_to_file(&out);
    if std::env::var("SYNTHVOL_WRITE_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(root.join("include/synthvol.h"));
    }
}
