//! synthvol installed as a system library (bindings/cpp/CMakeLists.txt): into a temporary
//! prefix, and staged with DESTDIR; the soname carries the ABI version; the installed header is
//! the committed one, byte for byte; the C example builds out of tree with pkg-config and the
//! C++ example with find_package, each against the shared and the static library, and runs;
//! the prefix still works after it moves; the CMake version file follows the ABI rule; and a
//! program built against another ABI version is refused by the C++ wrapper on first use.
//!
//! Needs cmake, make, pkg-config, readelf, cc and c++ (scripts/bootstrap installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{output, run};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn abi() -> u32 {
    synthvol::internals::ffi::SV_ABI_VERSION
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The cargo target folder the C ABI test uses too (tests/c_abi.rs), so the library is built
/// once for both.
fn cargo_target() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_synthvol"))
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .join("ffi")
}

/// Configures and builds the install tree once; returns the build folder.
fn configure_and_build(build: &Path) {
    run(
        Command::new("cmake")
            .arg("-S")
            .arg(root().join("bindings/cpp"))
            .arg("-B")
            .arg(build)
            .arg(format!(
                "-DSYNTHVOL_CARGO_TARGET_DIR={}",
                cargo_target().display()
            ))
            // The same profile as the C ABI test's build, so cargo finds it up to date.
            .arg("-DSYNTHVOL_DEBUGINFO=ON")
            .arg("-DCMAKE_INSTALL_LIBDIR=lib")
            .env_remove("CARGO_TARGET_DIR"),
        "cmake configure",
    );
    run(
        Command::new("cmake").arg("--build").arg(build),
        "cmake --build",
    );
}

/// Configures, builds and installs into `work/prefix`; returns the build folder and the prefix.
fn installed(work: &Path) -> (PathBuf, PathBuf) {
    let build = work.join("build");
    configure_and_build(&build);
    let prefix = work.join("prefix");
    install(&build, &prefix, None);
    (build, prefix)
}

fn install(build: &Path, prefix: &Path, destdir: Option<&Path>) -> String {
    let mut cmd = Command::new("cmake");
    cmd.arg("--install").arg(build).arg("--prefix").arg(prefix);
    if let Some(d) = destdir {
        cmd.env("DESTDIR", d);
    }
    run(&mut cmd, "cmake --install")
}

/// The files an install must put into a prefix.
fn expected_files() -> Vec<String> {
    vec![
        "include/synthvol/synthvol.h".into(),
        "include/synthvol/synthvol.hpp".into(),
        format!("lib/libsynthvol.so.{}", version()),
        format!("lib/libsynthvol.so.{}", abi()),
        "lib/libsynthvol.so".into(),
        "lib/libsynthvol.a".into(),
        "lib/pkgconfig/synthvol.pc".into(),
        "lib/cmake/synthvol/synthvol-config.cmake".into(),
        "lib/cmake/synthvol/synthvol-config-version.cmake".into(),
    ]
}

/// The dynamic section's entries of one kind (SONAME, NEEDED) as `readelf -d` prints them.
fn dynamic(file: &Path, kind: &str) -> Vec<String> {
    let text = run(Command::new("readelf").arg("-d").arg(file), "readelf -d");
    text.lines()
        .filter(|l| l.contains(&format!("({kind})")))
        .filter_map(|l| {
            let start = l.find('[')?;
            let end = l.rfind(']')?;
            Some(l[start + 1..end].to_string())
        })
        .collect()
}

/// Builds examples/c with its Makefile and pkg-config, out of tree, and runs it.
fn c_example(prefix: &Path, work: &Path, static_link: bool) -> PathBuf {
    let dir = work.join(if static_link { "c-static" } else { "c-shared" });
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(&dir)
        .arg("-f")
        .arg(root().join("examples/c/Makefile"))
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"));
    if static_link {
        cmd.arg("STATIC=1");
    }
    run(&mut cmd, "make examples/c");
    let exe = dir.join("fit_sample");
    let out = run(
        Command::new(&exe).arg(dir.join("ex.svmodel")),
        "examples/c/fit_sample",
    );
    assert!(out.contains("same rows for the same seed"), "{out}");
    exe
}

/// Builds examples/cpp with CMake's find_package, out of tree, and runs it.
fn cpp_example(prefix: &Path, work: &Path, static_link: bool) -> PathBuf {
    let build = work.join(if static_link {
        "cpp-static"
    } else {
        "cpp-shared"
    });
    run(
        Command::new("cmake")
            .arg("-S")
            .arg(root().join("examples/cpp"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg(format!(
                "-DSYNTHVOL_STATIC={}",
                if static_link { "ON" } else { "OFF" }
            )),
        "cmake configure examples/cpp",
    );
    run(
        Command::new("cmake").arg("--build").arg(&build),
        "cmake --build examples/cpp",
    );
    let exe = build.join("analytics");
    let (csv, schema) = common::ward_data(work, 400);
    let syn = build.join("syn.csv");
    let out = run(
        Command::new(&exe)
            .arg(&csv)
            .arg(&schema)
            .arg(&syn)
            .args(["1.0", "30"]),
        "examples/cpp/analytics",
    );
    assert!(out.contains("wrote 400 synthetic rows"), "{out}");
    assert_eq!(std::fs::read_to_string(&syn).unwrap().lines().count(), 401);
    exe
}

/// Configures a project that asks for `find_package(synthvol VERSION CONFIG REQUIRED)`.
fn find_version(prefix: &Path, work: &Path, version: &str) -> (bool, String) {
    let src = work.join(format!("find-{version}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("CMakeLists.txt"),
        format!(
            "cmake_minimum_required(VERSION 3.16)\nproject(probe LANGUAGES C)\n\
             find_package(synthvol {version} CONFIG REQUIRED)\n\
             message(STATUS \"synthvol ${{synthvol_VERSION}} ABI ${{synthvol_ABI_VERSION}}\")\n"
        ),
    )
    .unwrap();
    let (out, text) = output(
        Command::new("cmake")
            .arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(src.join("build"))
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display())),
        "cmake find_package probe",
    );
    (out.status.success(), text)
}

#[test]
fn install_into_a_prefix_and_build_the_examples_against_it() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    // Into a prefix.
    let (build, prefix) = installed(work);
    for f in expected_files() {
        assert!(prefix.join(&f).exists(), "{f} is not installed");
    }
    // Staged with DESTDIR: everything under DESTDIR/PREFIX, nothing at PREFIX itself.
    let stage = work.join("stage");
    let staged_prefix = work.join("not-here");
    install(&build, &staged_prefix, Some(&stage));
    let staged = stage.join(staged_prefix.strip_prefix("/").unwrap());
    for f in expected_files() {
        assert!(staged.join(&f).exists(), "{f} is not staged under DESTDIR");
    }
    assert!(
        !staged_prefix.exists(),
        "DESTDIR install wrote to the prefix itself"
    );

    // The header is the committed one; the wrapper is the repository's.
    for (installed, committed) in [
        ("include/synthvol/synthvol.h", "include/synthvol.h"),
        ("include/synthvol/synthvol.hpp", "bindings/cpp/synthvol.hpp"),
    ] {
        assert!(
            std::fs::read(prefix.join(installed)).unwrap()
                == std::fs::read(root().join(committed)).unwrap(),
            "{installed} differs from {committed}"
        );
    }

    // The soname carries the ABI version, and the links resolve to the real file.
    let real = prefix.join(format!("lib/libsynthvol.so.{}", version()));
    let soname = format!("libsynthvol.so.{}", abi());
    assert_eq!(dynamic(&real, "SONAME"), vec![soname.clone()]);
    assert_eq!(
        std::fs::canonicalize(prefix.join("lib/libsynthvol.so")).unwrap(),
        std::fs::canonicalize(&real).unwrap()
    );
    assert_eq!(
        std::fs::read_link(prefix.join("lib/libsynthvol.so")).unwrap(),
        PathBuf::from(&soname)
    );

    // The C example with pkg-config: shared (asks for the soname) and static (no libsynthvol).
    let c_shared = c_example(&prefix, work, false);
    assert!(
        dynamic(&c_shared, "NEEDED").contains(&soname),
        "the C example does not ask for {soname}"
    );
    let c_static = c_example(&prefix, work, true);
    assert!(
        !dynamic(&c_static, "NEEDED")
            .iter()
            .any(|n| n.contains("synthvol")),
        "the static C example still needs libsynthvol"
    );

    // The C++ example with find_package: synthvol::synthvol and synthvol::static.
    let cpp_shared = cpp_example(&prefix, work, false);
    assert!(dynamic(&cpp_shared, "NEEDED").contains(&soname));
    let cpp_static = cpp_example(&prefix, work, true);
    assert!(!dynamic(&cpp_static, "NEEDED")
        .iter()
        .any(|n| n.contains("synthvol")));

    // A moved prefix still works: pkg-config and CMake find it from their own place.
    let moved = work.join("moved");
    std::fs::rename(&prefix, &moved).unwrap();
    c_example(&moved, &work.join("after-move"), true);
    let (ok, text) = find_version(&moved, work, "0.1");
    assert!(ok, "find_package after the move:\n{text}");
    assert!(
        text.contains(&format!("synthvol {} ABI {}", version(), abi())),
        "{text}"
    );

    // The version file: the same minor (the ABI) at the same or a later patch.
    for (asked, compatible) in [
        ("0.1.0", true),
        ("0.2", false),
        ("1.0", false),
        ("0.0", false),
    ] {
        let (ok, text) = find_version(&moved, work, asked);
        assert_eq!(ok, compatible, "find_package(synthvol {asked}):\n{text}");
    }
}

#[test]
fn the_cpp_wrapper_refuses_a_library_of_another_abi() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let (_, prefix) = installed(work);
    let exe = work.join("abi_mismatch");
    let lib = prefix.join("lib");
    run(
        Command::new("c++")
            .args(["-std=c++17", "-Wall", "-Wextra"])
            .arg("-I")
            .arg(prefix.join("include/synthvol"))
            .arg(root().join("tests/cpp/abi_mismatch.cpp"))
            .arg("-o")
            .arg(&exe)
            .arg("-L")
            .arg(&lib)
            .arg("-lsynthvol")
            .arg(format!("-Wl,-rpath,{}", lib.display())),
        "compiling tests/cpp/abi_mismatch.cpp",
    );
    let (out, text) = output(&mut Command::new(&exe), "abi_mismatch");
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("C ABI {}", abi())) && text.contains("ABI 999"),
        "the refusal does not name both versions: {text}"
    );
}

/// While the version is 0.x, its minor number is the ABI version; the CMake version file and
/// the README promise it.
#[test]
fn the_minor_version_is_the_abi_version() {
    let mut parts = version().split('.');
    let major: u32 = parts.next().unwrap().parse().unwrap();
    let minor: u32 = parts.next().unwrap().parse().unwrap();
    if major == 0 {
        assert_eq!(
            minor,
            abi(),
            "version {} but SV_ABI_VERSION {}: bump them together",
            version(),
            abi()
        );
    }
}
