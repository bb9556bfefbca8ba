//! Build script. It records the target the library is built for (kept in every model's
//! training record, so a model says which build fitted it). Generating the C header with
//! cbindgen joins it with the C ABI.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=SYNTHVOL_TARGET={target}");
}
