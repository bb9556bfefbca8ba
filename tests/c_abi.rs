//! The C ABI as C and C++ programs see it: the committed header matches the code and compiles
//! as C99 and C++17 with strict warnings; tests/c/abi_test.c (every function, bad input,
//! cancellation, four threads sampling at once) and tests/cpp/wrapper_test.cpp (the C++
//! wrapper) pass linked against the shared and the static library, under valgrind (no errors,
//! no leaks) and AddressSanitizer; the examples build and run; a model written by C loads in
//! the CLI and samples the same rows.
//!
//! Needs cc, c++ and valgrind (scripts/bootstrap installs them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory with a fresh libsynthvol.so and libsynthvol.a. `cargo test` links tests
/// against the rlib only, so the C libraries are built here, by cargo, into their own target
/// directory (the test run holds the lock on the main one): the first run compiles the
/// dependencies once more, later runs only what changed.
fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let bin = Path::new(env!("CARGO_BIN_EXE_synthvol"));
        // .../target/<profile>/synthvol → .../target/ffi
        let target = bin
            .parent()
            .and_then(Path::parent)
            .expect("target directory")
            .join("ffi");
        let release = !cfg!(debug_assertions);
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--lib",
            "--no-default-features",
            "--features",
            "cuda",
            "--manifest-path",
        ])
        .arg(root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
        if release {
            cmd.arg("--release");
        }
        run(&mut cmd, "building libsynthvol.so and libsynthvol.a");
        let dir = target.join(if release { "release" } else { "debug" });
        for f in ["libsynthvol.so", "libsynthvol.a"] {
            assert!(dir.join(f).exists(), "{} is missing", dir.join(f).display());
        }
        // Programs linked against it ask for its soname, as an installed library provides.
        let soname = dir.join(format!(
            "libsynthvol.so.{}",
            synthvol::internals::ffi::SV_ABI_VERSION
        ));
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink("libsynthvol.so", &soname).expect("soname link");
        dir
    })
    .clone()
}

const C_FLAGS: [&str; 6] = [
    "-std=c99",
    "-D_POSIX_C_SOURCE=200809L",
    "-Wall",
    "-Wextra",
    "-Wstrict-prototypes",
    "-Werror",
];
const CXX_FLAGS: [&str; 4] = ["-std=c++17", "-Wall", "-Wextra", "-Werror"];
/// What the static library needs besides itself.
const STATIC_LIBS: [&str; 5] = ["-lopenblas", "-lpthread", "-ldl", "-lm", "-lgcc_s"];

#[derive(Clone, Copy)]
enum Link {
    Shared,
    Static,
}

/// Compiles `src` (C or C++) into `out`, linked against the library.
fn build(src: &str, out: &Path, link: Link, extra: &[&str]) {
    let cxx = src.ends_with(".cpp");
    let lib = lib_dir();
    let mut cmd = Command::new(if cxx { "c++" } else { "cc" });
    cmd.args(if cxx { &CXX_FLAGS[..] } else { &C_FLAGS[..] })
        .args(extra)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings/cpp"))
        .arg(root().join(src))
        .arg("-o")
        .arg(out);
    match link {
        Link::Shared => {
            cmd.arg("-L")
                .arg(&lib)
                .arg("-lsynthvol")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cmd.arg(lib.join("libsynthvol.a")).args(STATIC_LIBS);
        }
    }
    cmd.args(["-lpthread", "-lm"]);
    run(&mut cmd, &format!("compiling {src}"));
}

#[test]
fn committed_header_matches_the_code() {
    let committed = std::fs::read_to_string(root().join("include/synthvol.h")).expect("header");
    assert!(
        committed == synthvol::GENERATED_C_HEADER,
        "include/synthvol.h differs from what cbindgen generates from src/ffi: run `SYNTHVOL_WRITE_HEADER=1 cargo build` and commit the header"
    );
}

#[test]
fn header_compiles_as_c99_and_cxx17() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("h.c");
    std::fs::write(&c, "#include \"synthvol.h\"\nint main(void) { return (int)sv_abi_version() - SV_ABI_VERSION; }\n").unwrap();
    let mut cmd = Command::new("cc");
    cmd.args(C_FLAGS)
        .arg("-pedantic")
        .arg("-I")
        .arg(root().join("include"))
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(dir.path().join("h.o"));
    run(&mut cmd, "the header as C99");
    let cpp = dir.path().join("h.cpp");
    std::fs::write(
        &cpp,
        "#include \"synthvol.hpp\"\nint main() { return 0; }\n",
    )
    .unwrap();
    let mut cmd = Command::new("c++");
    cmd.args(CXX_FLAGS)
        .arg("-pedantic")
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings/cpp"))
        .arg("-c")
        .arg(&cpp)
        .arg("-o")
        .arg(dir.path().join("h2.o"));
    run(&mut cmd, "the header and the C++ wrapper as C++17");
}

#[test]
fn c_program_covers_the_abi_with_both_libraries() {
    let dir = tempfile::tempdir().unwrap();
    for (link, name) in [(Link::Shared, "shared"), (Link::Static, "static")] {
        let exe = dir.path().join(format!("abi_{name}"));
        build("tests/c/abi_test.c", &exe, link, &[]);
        let model = dir.path().join(format!("{name}.svmodel"));
        let rows = dir.path().join(format!("{name}.csv"));
        let out = run(
            Command::new(&exe).arg(&model).arg(&rows),
            &format!("abi_test ({name})"),
        );
        assert!(out.contains("all checks passed"), "{out}");
        // The model C saved as bytes loads in the CLI and samples the same rows.
        let cli_rows = dir.path().join(format!("{name}_cli.csv"));
        run(
            Command::new(env!("CARGO_BIN_EXE_synthvol"))
                .args(["sample", "--model"])
                .arg(&model)
                .args(["--rows", "50", "--seed", "42", "--out"])
                .arg(&cli_rows),
            "synthvol sample",
        );
        assert_eq!(
            std::fs::read(&rows).unwrap(),
            std::fs::read(&cli_rows).unwrap(),
            "the CLI sampled other rows than C from the same model and seed"
        );
    }
}

#[test]
fn cxx_wrapper_with_both_libraries() {
    let dir = tempfile::tempdir().unwrap();
    for (link, name) in [(Link::Shared, "shared"), (Link::Static, "static")] {
        let exe = dir.path().join(format!("cpp_{name}"));
        build("tests/cpp/wrapper_test.cpp", &exe, link, &[]);
        let out = run(&mut Command::new(&exe), &format!("wrapper_test ({name})"));
        assert!(out.contains("all checks passed"), "{out}");
    }
}

/// Runs a program under valgrind: any memory error or leak of any kind fails, but for the
/// one-time, process-lifetime allocations that tests/valgrind.supp lists (each explained).
fn valgrind(exe: &Path, args: &[&Path]) {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=all",
        "--show-leak-kinds=all",
        "-q",
    ])
    .arg(format!(
        "--suppressions={}",
        root().join("tests/valgrind.supp").display()
    ))
    .arg(exe)
    .args(args)
    // One BLAS thread keeps valgrind's serialised threads quick.
    .env("OPENBLAS_NUM_THREADS", "1");
    let out = run(&mut cmd, &format!("valgrind {}", exe.display()));
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn clean_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("abi");
    build("tests/c/abi_test.c", &c, Link::Shared, &["-g"]);
    valgrind(
        &c,
        &[&dir.path().join("m.svmodel"), &dir.path().join("s.csv")],
    );
    let cpp = dir.path().join("cpp");
    build("tests/cpp/wrapper_test.cpp", &cpp, Link::Shared, &["-g"]);
    valgrind(&cpp, &[]);
}

#[test]
fn clean_under_address_sanitizer() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "-g",
        "-fsanitize=address,undefined",
        "-fno-omit-frame-pointer",
    ];
    for (src, exe) in [
        ("tests/c/abi_test.c", "abi_asan"),
        ("tests/cpp/wrapper_test.cpp", "cpp_asan"),
    ] {
        let exe = dir.path().join(exe);
        build(src, &exe, Link::Shared, &flags);
        let mut cmd = Command::new(&exe);
        if src.ends_with(".c") {
            cmd.arg(dir.path().join("m.svmodel"))
                .arg(dir.path().join("s.csv"));
        }
        // Leak detection is on by default with ASan on Linux; make it explicit.
        cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
        let out = run(&mut cmd, &format!("{src} under AddressSanitizer"));
        assert!(out.contains("all checks passed"), "{out}");
    }
}

#[test]
fn examples_build_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("fit_sample");
    build("examples/c/fit_sample.c", &c, Link::Shared, &[]);
    let out = run(
        Command::new(&c).arg(dir.path().join("ex.svmodel")),
        "examples/c/fit_sample",
    );
    assert!(out.contains("same rows for the same seed"), "{out}");

    // The analytics example on a CSV with a schema written by the CLI.
    let (csv, schema) = common::ward_data(dir.path(), 600);
    let exe = dir.path().join("analytics");
    build("examples/cpp/analytics.cpp", &exe, Link::Static, &[]);
    let syn = dir.path().join("syn.csv");
    let out = run(
        Command::new(&exe)
            .arg(&csv)
            .arg(&schema)
            .arg(&syn)
            .args(["1.0", "50"]),
        "examples/cpp/analytics",
    );
    assert!(out.contains("wrote 600 synthetic rows"), "{out}");
    assert!(out.contains("\"epsilon\""), "{out}");
    let written = std::fs::read_to_string(&syn).unwrap();
    assert_eq!(written.lines().count(), 601);
}
