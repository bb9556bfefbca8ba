//! Hostile and careless input through the command line: sizes that would abort, schemas that
//! would make an unusable model, outputs that would destroy inputs, statistics that would be
//! silently wrong, documented paths, and messages that must say what went wrong. Every case
//! is a clear error (or the documented success), never a panic, and no file is lost.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn synthvol(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_synthvol"))
        .args(args)
        .output()
        .expect("run synthvol");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "synthvol panicked: {err}");
    out
}

/// Runs a command that must fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = synthvol(args);
    assert!(!out.status.success(), "expected a failure: {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(args: &[&str]) -> String {
    let out = synthvol(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn data(dir: &Path) -> PathBuf {
    let mut csv = String::from("age,city,score,label\n");
    for i in 0..80 {
        csv += &format!(
            "{},{},{:.1},{}\n",
            20 + i % 40,
            ["Oslo", "Lima", "Pune"][i % 3],
            (i as f64 * 0.37).sin() * 10.0,
            ["no", "yes"][i % 2]
        );
    }
    let p = dir.join("data.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

const QUICK: [&str; 6] = ["--steps", "5", "--layers", "8", "--timesteps", "4"];

fn model(dir: &Path) -> PathBuf {
    let out = dir.join("m.svmodel");
    let d = data(dir);
    let mut args = vec!["fit", "--data", s(&d), "--out", s(&out)];
    args.extend(QUICK);
    ok(&args);
    out
}

#[test]
fn sizes_that_would_abort_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path());
    let m = model(dir.path());
    let out = dir.path().join("s.csv");
    // Streamed to a file, a huge volume is bounded by the disk, checked after the first block.
    for rows in ["1000000000000", "18446744073709551615"] {
        let e = fails(&["sample", "--model", s(&m), "--rows", rows, "--out", s(&out)]);
        assert!(
            e.contains("would need about") && e.contains("GiB free"),
            "{e}"
        );
    }
    assert!(!out.exists());
    let fit = |extra: &[&str]| {
        let mut a = vec!["fit", "--data", s(&d), "--out", "/dev/null/x"];
        a.extend_from_slice(extra);
        a.iter().map(|x| x.to_string()).collect::<Vec<_>>()
    };
    let o = dir.path().join("big.svmodel");
    for (extra, want) in [
        (vec!["--time-dim", "65536"], "needs about"),
        (
            vec!["--time-dim", "4000000000"],
            "option 'time_dim' must be even, from 2 to 65536",
        ),
        (vec!["--layers", "65536,65536"], "needs about"),
        (
            vec!["--layers", "65537"],
            "option 'layers' must be at most 65536",
        ),
        (vec!["--timesteps", "1000000000"], "option 'timesteps'"),
        (vec!["--steps", "0"], "option 'steps' must be at least 1"),
    ] {
        let mut a = fit(&extra);
        a[4] = s(&o).to_string();
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let e = fails(&a);
        assert!(e.contains(want), "{extra:?}: {e}");
        assert!(!o.exists());
    }
    // The tuning volume m = ρ·n, checked before any sampling.
    let e = fails(&[
        "tune",
        "--model",
        s(&m),
        "--train",
        s(&d),
        "--valid",
        s(&d),
        "--target",
        "label",
        "--ratios",
        "1e15",
    ]);
    assert!(
        e.contains("the largest ratio ρ = 1000000000000000") && e.contains("needs about"),
        "{e}"
    );
}

#[test]
fn a_schema_that_would_make_an_unusable_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path());
    let schema = dir.path().join("schema.json");
    ok(&["schema", "--data", s(&d), "--out", s(&schema)]);
    let text = std::fs::read_to_string(&schema).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["columns"][0]["min"] = serde_json::json!(-1e308);
    v["columns"][0]["max"] = serde_json::json!(1e308);
    std::fs::write(&schema, v.to_string()).unwrap();
    let out = dir.path().join("p.svmodel");
    let mut a = vec![
        "fit",
        "--data",
        s(&d),
        "--schema",
        s(&schema),
        "--epsilon",
        "1",
        "--out",
        s(&out),
    ];
    a.extend(QUICK);
    let e = fails(&a);
    assert!(
        e.contains("schema column 'age'") && e.contains("overflows"),
        "{e}"
    );
    assert!(!out.exists());
    // Non-finite or inverted bounds, an empty name, an empty level set: each named.
    for (pointer, value, want) in [
        ("/columns/0/min", serde_json::json!(50), "min < max"),
        ("/columns/1/name", serde_json::json!(""), "empty name"),
        (
            "/columns/1/levels",
            serde_json::json!([]),
            "declares no levels",
        ),
    ] {
        let mut w: serde_json::Value = serde_json::from_str(&text).unwrap();
        *w.pointer_mut(pointer).unwrap() = value;
        if pointer == "/columns/0/min" {
            w["columns"][0]["max"] = serde_json::json!(10);
        }
        std::fs::write(&schema, w.to_string()).unwrap();
        let e = fails(&a);
        assert!(e.contains(want), "{pointer}: {e}");
    }
}

#[test]
fn outputs_never_destroy_inputs_or_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path());
    let m = model(dir.path());
    let before = std::fs::read(&d).unwrap();
    let model_before = std::fs::read(&m).unwrap();
    // --out naming an input, by another spelling too.
    let same = dir.path().join(".").join("data.csv");
    let mut a = vec!["fit", "--data", s(&d), "--out", s(&same)];
    a.extend(QUICK);
    assert!(fails(&a).contains("would destroy the input"));
    assert!(
        fails(&["sample", "--model", s(&m), "--rows", "5", "--out", s(&m)])
            .contains("would destroy the input")
    );
    let e = fails(&[
        "evaluate",
        "--real",
        s(&d),
        "--synthetic",
        s(&d),
        "--json",
        s(&d),
    ]);
    assert!(e.contains("would destroy the input"), "{e}");
    let schema = dir.path().join("schema.json");
    ok(&["schema", "--data", s(&d), "--out", s(&schema)]);
    let mut a = vec![
        "fit",
        "--data",
        s(&d),
        "--schema",
        s(&schema),
        "--out",
        s(&schema),
    ];
    a.extend(QUICK);
    assert!(fails(&a).contains("would destroy the input"));
    assert!(fails(&["schema", "--data", s(&d), "--out", s(&d)]).contains("would destroy the input"));
    assert_eq!(std::fs::read(&d).unwrap(), before);
    assert_eq!(std::fs::read(&m).unwrap(), model_before);
    // A user's own FILE.partial survives a write of FILE.
    let target = dir.path().join("s.csv");
    let partial = dir.path().join("s.csv.partial");
    std::fs::write(&partial, b"mine").unwrap();
    ok(&[
        "sample",
        "--model",
        s(&m),
        "--rows",
        "20",
        "--out",
        s(&target),
    ]);
    assert_eq!(std::fs::read(&partial).unwrap(), b"mine");
    assert!(target.exists());
    // A folder where no file can be made is found before the fit starts.
    let mut a = vec![
        "fit",
        "--data",
        s(&d),
        "--out",
        "/proc/synthvol-test.svmodel",
    ];
    a.extend(QUICK);
    let e = fails(&a);
    assert!(
        e.contains("cannot write /proc/synthvol-test.svmodel") && !e.contains("fitting on"),
        "{e}"
    );
    // Nothing else is left in the folder.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "data.csv",
            "m.svmodel",
            "s.csv",
            "s.csv.partial",
            "schema.json"
        ]
    );
}

#[test]
fn sigint_stops_a_fit_cleanly_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path());
    let out = dir.path().join("m.svmodel");
    let mut child = Command::new(env!("CARGO_BIN_EXE_synthvol"))
        .args([
            "fit",
            "--data",
            s(&d),
            "--out",
            s(&out),
            "--steps",
            "100000000",
            "--layers",
            "64",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let start = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(
        start.elapsed().as_secs_f64() < 10.0,
        "stopped within a few steps"
    );
    assert_eq!(status.code(), Some(130), "{status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the data remain"
    );
}

#[test]
fn statistics_that_cannot_be_computed_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("big,z,y\n");
    for i in 0..100 {
        let big = if i % 2 == 0 { 1e308 } else { -1e308 };
        csv += &format!("{big:e},{},{}\n", (i as f64).sin(), (i as f64 * 0.3).cos());
    }
    let p = dir.path().join("big.csv");
    std::fs::write(&p, csv).unwrap();
    let e = fails(&[
        "infer",
        "--synthetic",
        s(&p),
        "--target",
        "y",
        "--real-rows",
        "50",
    ]);
    assert!(e.contains("column 'big'") && e.contains("rescale"), "{e}");
    let e = fails(&["evaluate", "--real", s(&p), "--synthetic", s(&p)]);
    assert!(e.contains("column 'big'"), "{e}");
    let e = fails(&[
        "privacy",
        "--sample-rate",
        "0.01",
        "--noise-multiplier",
        "1e-300",
        "--steps",
        "10",
        "--json",
    ]);
    assert!(e.contains("infinite"), "{e}");
}

#[test]
fn documented_paths_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path());
    // A schema without --epsilon declares levels the data lack (for a later private
    // fine-tuning).
    let schema = dir.path().join("schema.json");
    ok(&["schema", "--data", s(&d), "--out", s(&schema)]);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema).unwrap()).unwrap();
    v["columns"][1]["levels"] = serde_json::json!(["Lima", "Oslo", "Pune", "Rome"]);
    std::fs::write(&schema, v.to_string()).unwrap();
    let out = dir.path().join("declared.svmodel");
    let mut a = vec![
        "fit",
        "--data",
        s(&d),
        "--schema",
        s(&schema),
        "--out",
        s(&out),
    ];
    a.extend(QUICK);
    ok(&a);
    let m = synthvol::Synthesizer::load(&out).unwrap();
    let synthvol::table::ColumnKind::Categorical { levels } = &m.schema().columns[1].kind else {
        panic!("categorical")
    };
    assert!(levels.contains(&"Rome".to_string()));
    // A constant categorical column: its schema (written by `synthvol schema`) serves a
    // private fit.
    let mut csv = String::from("x,site,y\n");
    for i in 0..60 {
        csv += &format!("{},A,{}\n", i % 7, ["p", "q"][i % 2]);
    }
    let c = dir.path().join("constant.csv");
    std::fs::write(&c, csv).unwrap();
    let cs = dir.path().join("constant.json");
    ok(&["schema", "--data", s(&c), "--out", s(&cs)]);
    let po = dir.path().join("private.svmodel");
    let mut a = vec![
        "fit",
        "--data",
        s(&c),
        "--schema",
        s(&cs),
        "--epsilon",
        "2",
        "--out",
        s(&po),
    ];
    a.extend(QUICK);
    ok(&a);
    // Two syntheses of one model: the second holds a level the first lacks (once read, each
    // file knows only its own levels). They are matched over the union of their levels.
    let (s1, s2) = (dir.path().join("s1.csv"), dir.path().join("s2.csv"));
    let mut t1 = String::from("score,city\n");
    let mut t2 = t1.clone();
    for i in 0..30 {
        t1 += &format!("{},{}\n", i % 7, ["Oslo", "Lima"][i % 2]);
        t2 += &format!("{},{}\n", i % 5, ["Pune", "Oslo", "Lima"][i % 3]);
    }
    t1 += "9,Pune\n9,Pune\n";
    t2 += "8,Oslo\n8,Lima\n";
    std::fs::write(&s1, &t1).unwrap();
    std::fs::write(&s2, &t2).unwrap();
    let r = ok(&[
        "infer",
        "--synthetic",
        s(&s2),
        "--synthetic",
        s(&s1),
        "--target",
        "score",
        "--real-rows",
        "30",
    ]);
    assert!(r.contains("city=Pune"), "{r}");
    // A level one synthesis never drew: named, with the file.
    let s3 = dir.path().join("s3.csv");
    std::fs::write(&s3, t1.replace("9,Pune\n9,Pune\n", "9,Oslo\n9,Lima\n")).unwrap();
    let e = fails(&[
        "infer",
        "--synthetic",
        s(&s2),
        "--synthetic",
        s(&s3),
        "--target",
        "score",
        "--real-rows",
        "30",
    ]);
    assert!(e.contains("s3.csv: term 'city=Pune' has no rows"), "{e}");
}

#[test]
fn messages_say_what_went_wrong() {
    let dir = tempfile::tempdir().unwrap();
    // An unterminated quote: say so, and where it opened.
    let mut csv = String::from("a,b,c\n");
    for i in 0..300 {
        csv += &if i == 200 {
            "1,\"oops,3\n".to_string()
        } else {
            format!("{i},x,{}\n", i % 3)
        };
    }
    let q = dir.path().join("q.csv");
    std::fs::write(&q, csv).unwrap();
    let e = fails(&["schema", "--data", s(&q)]);
    assert!(
        e.contains("line 202: field 2 opens a quote that is not closed"),
        "{e}"
    );
    // An ε too small for the preprocessing: say it is the preprocessing, and what to change.
    let d = data(dir.path());
    let schema = dir.path().join("schema.json");
    ok(&["schema", "--data", s(&d), "--out", s(&schema)]);
    let out = dir.path().join("m.svmodel");
    let mut a = vec![
        "fit",
        "--data",
        s(&d),
        "--schema",
        s(&schema),
        "--epsilon",
        "1e-9",
        "--out",
        s(&out),
    ];
    a.extend(QUICK);
    let e = fails(&a);
    assert!(
        e.contains("the private preprocessing") && e.contains("'preprocessing_share'"),
        "{e}"
    );
    // Wide categorical columns: the report says they were pooled.
    let mut wide = String::from("id,x\n");
    for i in 0..600 {
        wide += &format!("L{},{}\n", (i * 7919) % 500, (i as f64).sin());
    }
    let w = dir.path().join("wide.csv");
    std::fs::write(&w, wide).unwrap();
    let r = ok(&["evaluate", "--real", s(&w), "--synthetic", s(&w)]);
    assert!(
        r.contains("column 'id' has 500 levels") && r.contains("pool the other 401"),
        "{r}"
    );
}

/// Smoothed copies are planned with the memory they take: a tall table that trains within a
/// small limit is refused, before any work and with the option named, when smoothing would
/// pass it.
#[test]
fn smoothing_counts_in_the_memory_plan() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tall.csv");
    let mut text = String::from("a,b\n");
    for i in 0..400_000u32 {
        let u = (i.wrapping_mul(2_654_435_761) % 10_007) as f64 / 10_007.0;
        text += &format!("{:.4},{:.4}\n", u, u * u + (i % 7) as f64);
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("m.svmodel");
    let fit = |h: &str| {
        Command::new(env!("CARGO_BIN_EXE_synthvol"))
            .args([
                "fit",
                "--data",
                s(&csv),
                "--steps",
                "1",
                "--layers",
                "8",
                "--time-dim",
                "2",
                "--batch-size",
                "8",
                "--smoothing",
                h,
                "--out",
                s(&out),
            ])
            .env("SYNTHVOL_MAX_MEMORY_MB", "30")
            .output()
            .expect("run synthvol")
    };
    assert!(fit("0").status.success(), "the plain fit fits in 30 MB");
    std::fs::remove_file(&out).unwrap();
    let r = fit("1");
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("needs about") && err.contains("'smoothing' 0"),
        "{err}"
    );
    assert!(!out.exists());
}
