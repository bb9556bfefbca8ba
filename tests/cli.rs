//! The command line on good and bad input: every bad input is a clear message naming the
//! column or line, a non-zero exit code, and never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synthvol"))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = bin().args(args).output().expect("run synthvol");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "synthvol panicked: {stderr}");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

const QUICK: [&str; 8] = [
    "--steps",
    "5",
    "--layers",
    "8",
    "--timesteps",
    "4",
    "--batch-size",
    "8",
];

fn fit(data: &Path, extra: &[&str], out: &Path) -> Run {
    let mut args = vec![
        "fit",
        "--data",
        data.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ];
    args.extend_from_slice(&QUICK);
    args.extend_from_slice(extra);
    run(&args)
}

/// `synthvol schema --data DATA --out SCHEMA`.
fn write_schema(data: &Path, schema: &Path) -> Run {
    run(&[
        "schema",
        "--data",
        data.to_str().expect("utf8"),
        "--out",
        schema.to_str().expect("utf8"),
    ])
}

fn good_csv() -> String {
    let mut s = String::from("age,city,score,label\n");
    for i in 0..60 {
        s += &format!(
            "{},{},{:.2},{}\n",
            20 + i % 40,
            ["Oslo", "Lima", "Pune"][i % 3],
            (i as f64 * 0.37).sin() * 10.0,
            ["no", "yes"][i % 2]
        );
    }
    s
}

/// The CSV with one more column: `name` in the header and `value` in every row.
fn with_column(csv: &str, name: &str, value: &str) -> String {
    csv.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},{name}")
            } else {
                format!("{l},{value}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs a failing fit and checks its message.
fn fit_fails(csv: &[u8], extra: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "data.csv", csv);
    let r = fit(&data, extra, &dir.path().join("m.svmodel"));
    assert_ne!(r.code, 0, "expected failure, stderr: {}", r.stderr);
    for e in expect {
        assert!(r.stderr.contains(e), "expected {e:?} in: {}", r.stderr);
    }
    assert!(
        !dir.path().join("m.svmodel").exists(),
        "no model is written on failure"
    );
}

#[test]
fn fit_sample_evaluate_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "data.csv", good_csv().as_bytes());
    let model = dir.path().join("m.svmodel");
    let r = fit(&data, &["--target", "label"], &model);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let syn = dir.path().join("syn.csv");
    let r = run(&[
        "sample",
        "--model",
        model.to_str().unwrap(),
        "--rows",
        "50",
        "--seed",
        "3",
        "--out",
        syn.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&syn).expect("read");
    assert_eq!(text.lines().count(), 51);
    assert_eq!(text.lines().next(), Some("age,city,score,label"));
    let json = dir.path().join("r.json");
    let html = dir.path().join("r.html");
    let r = run(&[
        "evaluate",
        "--real",
        data.to_str().unwrap(),
        "--synthetic",
        syn.to_str().unwrap(),
        "--holdout",
        data.to_str().unwrap(),
        "--target",
        "label",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid JSON");
    assert!(report["fidelity"]["mean_column_score"].as_f64().is_some());
    assert!(report["utility"]["synthetic"]["accuracy"]
        .as_f64()
        .is_some());
    assert!(report["privacy"]["membership_auc"].as_f64().is_some());
    for k in [
        "pMSE",
        "detection AUC",
        "Fréchet",
        "membership-inference AUC",
    ] {
        assert!(r.stdout.contains(k), "summary lacks {k}: {}", r.stdout);
    }
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
}

#[test]
fn empty_file() {
    fit_fails(b"", &[], &["is empty"]);
}

#[test]
fn header_only() {
    fit_fails(b"a,b\n", &[], &["header but no data rows"]);
}

#[test]
fn ragged_rows() {
    fit_fails(
        b"a,b,c\n1,2,3\n4,5\n",
        &[],
        &["line 3", "2 fields", "header has 3"],
    );
}

#[test]
fn all_missing_column() {
    fit_fails(
        with_column(&good_csv(), "empty", "").as_bytes(),
        &[],
        &["'empty'", "missing in every row"],
    );
}

#[test]
fn constant_column() {
    fit_fails(
        with_column(&good_csv(), "k", "5").as_bytes(),
        &[],
        &["'k'", "constant"],
    );
}

/// A categorical column with one level is kept (a pre-training population may lack the
/// levels its fine-tuning adds, as men-only data lack sex = Female), and fine-tuning on data
/// with another level extends the model.
#[test]
fn categorical_with_one_level_then_fine_tuning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(
        dir.path(),
        "data.csv",
        with_column(&good_csv(), "unit", "kg").as_bytes(),
    );
    let model = dir.path().join("m.svmodel");
    let r = fit(&data, &[], &model);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let other = write(
        dir.path(),
        "other.csv",
        with_column(&good_csv(), "unit", "lb").as_bytes(),
    );
    let tuned = dir.path().join("t.svmodel");
    let r = run(&[
        "fit",
        "--data",
        other.to_str().unwrap(),
        "--init",
        model.to_str().unwrap(),
        "--steps",
        "5",
        "--batch-size",
        "8",
        "--out",
        tuned.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("'unit' = 'lb'"), "{}", r.stderr);
    let syn = dir.path().join("syn.csv");
    let r = run(&[
        "sample",
        "--model",
        tuned.to_str().unwrap(),
        "--rows",
        "20",
        "--out",
        syn.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A partial, calibrated fine-tuning: `privacy --model` says what trained and the
    // calibration.
    let partial = dir.path().join("p.svmodel");
    let r = run(&[
        "fit",
        "--data",
        other.to_str().unwrap(),
        "--init",
        model.to_str().unwrap(),
        "--steps",
        "5",
        "--batch-size",
        "8",
        "--trainable",
        "head",
        "--calibrate",
        "true",
        "--out",
        partial.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["privacy", "--model", partial.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("trained: the output head, every bias and the label embedding (")
            && r.stdout
                .contains("calibrated to the fine-tuning rows' level counts"),
        "{}",
        r.stdout
    );
    let r = run(&["privacy", "--model", partial.to_str().unwrap(), "--json"]);
    assert!(r.stdout.contains("\"trainable\": \"head\""), "{}", r.stdout);
    let r = run(&[
        "fit",
        "--data",
        other.to_str().unwrap(),
        "--init",
        model.to_str().unwrap(),
        "--trainable",
        "lora",
        "--out",
        partial.to_str().unwrap(),
    ]);
    assert!(r.code != 0 && r.stderr.contains("biases"), "{}", r.stderr);
    // A DP fine-tuning refuses the undeclared level, and --target must match the model's.
    let schema_less = run(&[
        "fit",
        "--data",
        other.to_str().unwrap(),
        "--init",
        model.to_str().unwrap(),
        "--epsilon",
        "1",
        "--out",
        tuned.to_str().unwrap(),
    ]);
    assert!(
        schema_less.code != 0 && schema_less.stderr.contains("'unit' = 'lb'"),
        "{}",
        schema_less.stderr
    );
    let r = run(&[
        "fit",
        "--data",
        other.to_str().unwrap(),
        "--init",
        model.to_str().unwrap(),
        "--target",
        "label",
        "--out",
        tuned.to_str().unwrap(),
    ]);
    assert!(r.code != 0 && r.stderr.contains("target"), "{}", r.stderr);
}

#[test]
fn categorical_with_too_many_levels() {
    let mut s = String::from("id,x\n");
    for i in 0..300 {
        s += &format!("P{i:05},{}\n", i % 7);
    }
    fit_fails(s.as_bytes(), &[], &["'id'", "identifier", "drop it"]);
}

#[test]
fn target_missing_or_with_one_class() {
    fit_fails(
        good_csv().as_bytes(),
        &["--target", "nope"],
        &["no column 'nope'", "age, city, score, label"],
    );
    let s = good_csv().replace(",yes\n", ",no\n");
    fit_fails(
        s.as_bytes(),
        &["--target", "label"],
        &["'label'", "one class"],
    );
}

#[test]
fn non_finite_numbers() {
    for bad in ["NaN", "inf", "-Infinity"] {
        let s = good_csv().replacen("\n21,", &format!("\n{bad},"), 1);
        fit_fails(
            s.as_bytes(),
            &[],
            &["line 3", "'age'", "not a finite number"],
        );
    }
}

#[test]
fn invalid_utf8() {
    let mut bytes = good_csv().into_bytes();
    let pos = bytes.iter().position(|&b| b == b'O').expect("an O");
    bytes[pos] = 0xFF;
    fit_fails(&bytes, &[], &["invalid UTF-8", "line 2"]);
}

#[test]
fn unknown_override_column() {
    fit_fails(
        good_csv().as_bytes(),
        &["--categorical", "agee"],
        &["'agee'", "not in"],
    );
}

#[test]
fn missing_input_file() {
    let r = run(&[
        "fit",
        "--data",
        "/nonexistent/x.csv",
        "--out",
        "/tmp/m.svmodel",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("/nonexistent/x.csv"), "{}", r.stderr);
}

#[test]
fn bad_model_files_and_zero_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "data.csv", good_csv().as_bytes());
    let model = dir.path().join("m.svmodel");
    assert_eq!(fit(&data, &[], &model).code, 0);
    let bytes = std::fs::read(&model).expect("model");
    let out = dir.path().join("s.csv");
    let sample = |m: &Path, rows: &str| {
        run(&[
            "sample",
            "--model",
            m.to_str().unwrap(),
            "--rows",
            rows,
            "--out",
            out.to_str().unwrap(),
        ])
    };

    let r = sample(&model, "0");
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("the number of rows to sample must be at least 1"),
        "{}",
        r.stderr
    );

    let truncated = write(dir.path(), "t.svmodel", &bytes[..bytes.len() / 2]);
    let r = sample(&truncated, "5");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);

    let mut c = bytes.clone();
    let mid = c.len() / 2;
    c[mid] ^= 1;
    let corrupted = write(dir.path(), "c.svmodel", &c);
    let r = sample(&corrupted, "5");
    assert!(
        r.code != 0 && r.stderr.contains("corrupted"),
        "{}",
        r.stderr
    );

    let mut f = bytes.clone();
    f[8] = 42;
    let future = write(dir.path(), "f.svmodel", &f);
    let r = sample(&future, "5");
    assert!(
        r.code != 0 && r.stderr.contains("format version 42"),
        "{}",
        r.stderr
    );

    let r = sample(&data, "5");
    assert!(
        r.code != 0 && r.stderr.contains("not a synthvol model"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing written on failure");
}

#[test]
fn evaluate_rejects_mismatched_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = write(dir.path(), "real.csv", good_csv().as_bytes());
    let other = write(dir.path(), "other.csv", b"age,town\n3,Oslo\n");
    let r = run(&[
        "evaluate",
        "--real",
        real.to_str().unwrap(),
        "--synthetic",
        other.to_str().unwrap(),
    ]);
    assert!(
        r.code != 0 && r.stderr.contains("column 'city' is missing"),
        "{}",
        r.stderr
    );
    let unseen = write(
        dir.path(),
        "u.csv",
        good_csv().replace("Oslo", "Bergen").as_bytes(),
    );
    let r = run(&[
        "evaluate",
        "--real",
        real.to_str().unwrap(),
        "--synthetic",
        unseen.to_str().unwrap(),
    ]);
    // A level only the synthetic rows have is measured, and the report names it.
    assert!(
        r.code == 0 && r.stdout.contains("'Bergen'") && r.stdout.contains("not in the real rows"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn absurd_thread_counts_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "data.csv", good_csv().as_bytes());
    let r = fit(
        &data,
        &["--threads", "100000"],
        &dir.path().join("m.svmodel"),
    );
    assert!(
        r.code != 0 && r.stderr.contains("at most 1024"),
        "{}",
        r.stderr
    );
}

/// Without --timesteps a private fit uses the short diffusion that learns better under DP's
/// noise, a non-private fit the general default; --timesteps overrides both.
#[test]
fn private_fits_default_to_a_short_diffusion() {
    use synthvol::model::{FitOptions, Synthesizer, DP_TIMESTEPS};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "data.csv", good_csv().as_bytes());
    let schema = dir.path().join("schema.json");
    let r = write_schema(&data, &schema);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let model = dir.path().join("m.svmodel");
    let timesteps = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
            "--steps",
            "3",
            "--layers",
            "8",
            "--batch-size",
            "8",
        ];
        args.extend_from_slice(extra);
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        Synthesizer::load(&model).expect("model").timesteps()
    };
    let private = ["--epsilon", "2", "--schema", schema.to_str().unwrap()];
    assert_eq!(timesteps(&private), DP_TIMESTEPS);
    assert_eq!(timesteps(&[]), FitOptions::default().timesteps);
    let mut chosen = private.to_vec();
    chosen.extend_from_slice(&["--timesteps", "7"]);
    assert_eq!(timesteps(&chosen), 7);
}

#[test]
fn private_fit_needs_a_schema_and_reports_its_spend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = write(dir.path(), "data.csv", good_csv().as_bytes());
    let model = dir.path().join("m.svmodel");
    let r = fit(&data, &["--epsilon", "2"], &model);
    assert!(
        r.code != 0 && r.stderr.contains("needs a public schema"),
        "{}",
        r.stderr
    );
    let schema = dir.path().join("schema.json");
    let r = write_schema(&data, &schema);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("must be public knowledge"));
    let r = fit(
        &data,
        &[
            "--epsilon",
            "2",
            "--schema",
            schema.to_str().unwrap(),
            "--noise-seed",
            "1",
            "--target",
            "label",
        ],
        &model,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("-DP"), "{}", r.stderr);
    let out = bin()
        .args(["privacy", "--model", model.to_str().unwrap(), "--json"])
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["epsilon"].as_f64().expect("epsilon") <= 2.0);
    assert_eq!(v["noise_source"], "test seed 1 (not private)");
    assert_eq!(v["quantile_map"]["rows"], 8192, "{v}");
    let r = run(&["privacy", "--model", model.to_str().unwrap()]);
    assert!(
        r.stdout.contains("numeric histograms of at most 4 bins")
            && r.stdout.contains("quantile map (post-processing)"),
        "{}",
        r.stdout
    );
    // A small table with a categorical target: target pairs by default, in the JSON and
    // the text, within the budget.
    let pairs = &v["target_pairs"];
    assert!(pairs["tables"].as_u64().expect("tables") >= 1, "{v}");
    assert_eq!(v["phases"].as_array().map(|p| p.len()), Some(3), "{v}");
    assert!(r.stdout.contains("target pairs:"), "{}", r.stdout);
    for (share, what) in [
        ("1.5", "must be in [0, 1)"),
        ("0.95", "leave DP-SGD no budget"),
    ] {
        let r = fit(
            &data,
            &[
                "--epsilon",
                "2",
                "--schema",
                schema.to_str().unwrap(),
                "--target",
                "label",
                "--pair-share",
                share,
            ],
            &model,
        );
        assert!(
            r.code != 0 && r.stderr.contains(what),
            "{share}: {}",
            r.stderr
        );
    }
    let r = fit(&data, &["--pair-share", "0.2"], &model);
    assert!(
        r.code != 0 && r.stderr.contains("'pair_share'"),
        "{}",
        r.stderr
    );
    // Off on request; and not for a fit without DP.
    let r = fit(
        &data,
        &[
            "--epsilon",
            "2",
            "--schema",
            schema.to_str().unwrap(),
            "--quantile-map",
            "false",
        ],
        &model,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["privacy", "--model", model.to_str().unwrap()]);
    assert!(!r.stdout.contains("quantile map"), "{}", r.stdout);
    let r = fit(&data, &["--quantile-map", "true"], &model);
    assert!(
        r.code != 0 && r.stderr.contains("'quantile_map'"),
        "{}",
        r.stderr
    );
    let r = fit(&data, &["--quantile-map", "maybe"], &model);
    assert!(
        r.code != 0 && r.stderr.contains("--quantile-map"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "privacy",
        "--sample-rate",
        "0.01",
        "--noise-multiplier",
        "1.0",
        "--steps",
        "1000",
    ]);
    assert_eq!(r.code, 0);
    let out = bin()
        .args([
            "privacy",
            "--sample-rate",
            "0.01",
            "--noise-multiplier",
            "1.0",
            "--steps",
            "1000",
        ])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ε = 2.1014"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r = run(&[
        "privacy",
        "--sample-rate",
        "1.5",
        "--noise-multiplier",
        "1.0",
        "--steps",
        "10",
    ]);
    assert!(
        r.code != 0 && r.stderr.contains("sampling rate"),
        "{}",
        r.stderr
    );
}

/// The whole demo in its quick form: the main fit, the private fit and the Syn experiment
/// (pre-train on men, fine-tune on women with and without DP, distances, volume tuning).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a minute of numerics without optimisation: run `cargo test --release`"
)]
fn demo_quick_runs_the_whole_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["demo", "--quick", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in [
        "accuracy gap",
        "private run",
        "fine-tune under DP: ε = 0.99",
        "male raw rows",
        "fine-tuned synthetic",
        "reflection point ρ =",
        "generational effect (gradient boosting",
        "the men and the raw women pooled",
        "test misclassification rate",
    ] {
        assert!(
            stdout.contains(s),
            "the demo's output lacks '{s}':\n{stdout}"
        );
    }
    for f in ["report.html", "report.json", "tuning.svg", "adult.svmodel"] {
        assert!(dir.path().join(f).exists(), "{f} was not written");
    }
}

/// The command line holds no defaults; its help text states the engine's, and must not drift.
#[test]
fn help_states_the_engines_defaults() {
    use synthvol::metrics::EvaluateOptions;
    use synthvol::model::{
        DpOptions, FineTuneOptions, FitOptions, SampleOptions, DP_TIMESTEPS, FINE_TUNE_EPOCHS,
        FIT_EPOCHS, NARROW_TABLE_LAYERS, NARROW_TABLE_WIDTH, PAIR_ROWS, PRIVATE_CALIBRATION_SHARE,
        PRIVATE_PAIR_SHARE, PRIVATE_TRAINABLE, SMALL_TABLE_LAYERS, SMALL_TABLE_PREPROCESSING_SHARE,
        SMALL_TABLE_ROWS,
    };
    let help = |cmd: &str| {
        let r = run(&[cmd, "--help"]);
        assert_eq!(r.code, 0);
        // clap wraps long lines: join them to match phrases.
        r.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let (f, t, d) = (
        FitOptions::default(),
        FineTuneOptions::default(),
        DpOptions::default(),
    );
    let fit = help("fit");
    let rows = format!("{},{:03}", PAIR_ROWS / 1000, PAIR_ROWS % 1000);
    let layers: Vec<String> = f.layers.iter().map(|w| w.to_string()).collect();
    for want in [
        format!(
            "[default: {FIT_EPOCHS} epochs of the rows, at most {} steps; private fits: {}; fine-tuning: {FINE_TUNE_EPOCHS} epochs, at most {}]",
            f.optim.steps, f.optim.steps, t.optim.steps
        ),
        format!("[default without --steps and without DP: {FIT_EPOCHS}; fine-tuning: {FINE_TUNE_EPOCHS}]"),
        format!("[default: {}]", f.optim.batch_size),
        format!(
            "[default: {}; a fit without DP on fewer than {SMALL_TABLE_ROWS} rows: {}, or {} when its rows have at most {NARROW_TABLE_WIDTH} numeric values and levels]",
            layers.join(","),
            SMALL_TABLE_LAYERS.map(|w| w.to_string()).join(","),
            NARROW_TABLE_LAYERS.map(|w| w.to_string()).join(",")
        ),
        format!("[default: {}]", f.smoothing),
        format!("[default: {}; private fits: {DP_TIMESTEPS},", f.timesteps),
        format!("[default: {}]", f.dim_t),
        format!("[default: {}; fine-tuning: {}]", f.optim.lr, t.optim.lr),
        format!("[default: {}]", f.optim.weight_decay),
        format!("[default: {}]", f.optim.ema_rate),
        format!("[default: {:e}]", d.delta),
        format!("[default: {}]", d.max_grad_norm),
        format!(
            "[default: {}; {SMALL_TABLE_PREPROCESSING_SHARE} for a new private fit on fewer than {rows} rows; {} for a private fine-tuning that calibrates]",
            d.preprocessing_share, PRIVATE_CALIBRATION_SHARE
        ),
        format!("[default: {PRIVATE_PAIR_SHARE} below {rows} rows, else 0]"),
        format!("[default: all; {} under DP]", PRIVATE_TRAINABLE.name()),
        format!("[default: {}]", d.categorical_weight),
    ] {
        assert!(fit.contains(&want), "fit --help lacks {want}:\n{fit}");
    }
    let sample = help("sample");
    let b = format!("[default: {}]", SampleOptions::default().batch_size);
    assert!(sample.contains(&b), "sample --help lacks {b}");
    let eval = help("evaluate");
    let e = EvaluateOptions::default();
    for n in [
        e.wasserstein_rows,
        e.privacy_rows,
        e.propensity_rows,
        e.detection_folds,
    ] {
        let want = format!("[default: {n}]");
        assert!(eval.contains(&want), "evaluate --help lacks {want}");
    }
}
