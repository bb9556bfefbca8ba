//! The Syn workflow's tuning and inference: the curve has one entry per ratio and never sees
//! test rows; corrected standard errors are at least those of the real rows when the truth is
//! known; the CLI writes the curve, the plot and the inference table.

use std::process::Command;

use synthvol::model::{FitOptions, FitRequest, Synthesizer};
use synthvol::syn::{self, TuneOptions};
use synthvol::table::{write_csv, ColumnData, Schema, Table};
use synthvol::Result;

mod common;
use common::{cat, num, Lcg};

/// y = 1 + 2·x1 − x2 + noise; label = [x1 + noise > 0]; g follows x2.
fn linear(n: usize, seed: u64) -> Table {
    let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 5);
    let (mut x1, mut x2, mut y, mut g, mut label) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let a = r.normal();
        let b = r.normal();
        x1.push(a);
        x2.push(b);
        y.push(1.0 + 2.0 * a - b + r.normal());
        g.push((b > 0.0) as u32);
        label.push((a + 0.8 * r.normal() > 0.0) as u32);
    }
    Table::new(
        Schema {
            columns: vec![
                num("x1"),
                num("x2"),
                num("y"),
                cat("g", &["lo", "hi"]),
                cat("label", &["no", "yes"]),
            ],
        },
        vec![
            ColumnData::Numeric(x1),
            ColumnData::Numeric(x2),
            ColumnData::Numeric(y),
            ColumnData::Categorical(g),
            ColumnData::Categorical(label),
        ],
    )
    .unwrap()
}

fn small_model(train: &Table) -> Synthesizer {
    let mut o = FitOptions {
        target: Some("label".into()),
        layers: vec![32, 32],
        dim_t: 16,
        timesteps: 20,
        seed: 1,
        ..FitOptions::default()
    };
    o.optim.steps = 300;
    o.optim.batch_size = 128;
    Synthesizer::fit(train, &FitRequest::from_options(&o), &mut |_| true).unwrap()
}

fn numeric(t: &Table, name: &str) -> Vec<f64> {
    let j = t.schema().index_of(name).unwrap();
    let ColumnData::Numeric(v) = t.column(j) else {
        unreachable!()
    };
    v.clone()
}

#[test]
fn tuning_gives_a_curve_per_ratio_and_never_sees_test_rows() {
    let train = linear(200, 1);
    let valid = linear(300, 2);
    let test = linear(300, 3);
    let model = small_model(&train);
    let (mut builtin, metric) = syn::builtin(&train, "label").unwrap();
    assert_eq!(metric, "misclassification rate");
    // Wrap the built-in analysis to record every table it is given.
    let test_x1 = numeric(&test, "x1");
    let valid_x1 = numeric(&valid, "x1");
    let mut calls = 0;
    let mut analysis = |tr: &Table, va: &Table| -> Result<f64> {
        calls += 1;
        assert_eq!(
            numeric(va, "x1"),
            valid_x1,
            "scored on the validation rows only"
        );
        for v in numeric(tr, "x1") {
            assert!(!test_x1.contains(&v), "a test row reached the analysis");
        }
        builtin(tr, va)
    };
    let opts = TuneOptions {
        ratios: vec![0.5, 1.0, 2.0, 4.0],
        repeats: 2,
        with_raw: true,
        seed: 3,
        threads: 1,
        ..TuneOptions::default()
    };
    let r = syn::tune(
        &model,
        &train,
        &valid,
        &mut analysis,
        metric,
        &opts,
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(
        calls,
        1 + 4 * 2,
        "raw only, then every ratio and repetition"
    );
    assert_eq!(r.points.len(), 4);
    assert_eq!(
        r.points.iter().map(|p| p.m).collect::<Vec<_>>(),
        vec![100, 200, 400, 800]
    );
    assert!(r
        .points
        .iter()
        .all(|p| p.errors.len() == 2 && p.error_sd >= 0.0));
    let best = r
        .points
        .iter()
        .map(|p| p.error)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(r.chosen_error, best);
    assert!(r.raw_only_error > 0.0 && r.raw_only_error < 0.5);
    assert_eq!(r.raw_only_better, r.raw_only_error < r.chosen_error);
    // An analysis that does best on the raw rows alone (the first call) is reported so.
    for raw_best in [true, false] {
        let mut first = true;
        let mut scripted = |_: &Table, _: &Table| -> Result<f64> {
            let e = if first == raw_best { 0.1 } else { 0.2 };
            first = false;
            Ok(e)
        };
        let r = syn::tune(
            &model,
            &train,
            &valid,
            &mut scripted,
            "x",
            &opts,
            &mut |_| true,
        )
        .unwrap();
        assert_eq!(r.raw_only_better, raw_best);
    }
    let svg = syn::tune_svg(&r);
    assert!(svg.starts_with("<svg") && svg.contains("chosen ρ"));
    // Bad input.
    let bad = TuneOptions {
        ratios: vec![],
        ..TuneOptions::default()
    };
    let (mut a2, _) = syn::builtin(&train, "y").unwrap();
    assert!(
        syn::tune(&model, &train, &valid, &mut *a2, "RMSE", &bad, &mut |_| {
            true
        })
        .is_err()
    );
}

/// The best possible generator (the true distribution): naive standard errors shrink with m,
/// corrected ones stay at least those of the real rows.
#[test]
fn corrected_standard_errors_cover_the_real_ones() {
    let n = 400;
    let real = linear(n, 10);
    let truth = syn::infer(std::slice::from_ref(&real), "y", n).unwrap();
    let se_real = truth
        .coefficients
        .iter()
        .find(|c| c.term == "x1")
        .unwrap()
        .se_corrected
        / (1.0f64 + 1.0).sqrt(); // k = n, M = 1: corrected = naive × √2
    let naive_real = truth
        .coefficients
        .iter()
        .find(|c| c.term == "x1")
        .unwrap()
        .se_naive;
    assert!((se_real - naive_real).abs() < 1e-12);
    for (m, syntheses) in [(4000usize, 1usize), (2000, 3)] {
        let tables: Vec<Table> = (0..syntheses).map(|s| linear(m, 100 + s as u64)).collect();
        let r = syn::infer(&tables, "y", n).unwrap();
        let c = r.coefficients.iter().find(|c| c.term == "x1").unwrap();
        assert!((c.estimate - 2.0).abs() < 0.1, "estimate {}", c.estimate);
        assert!(
            c.se_naive < 0.5 * naive_real,
            "naive {} vs real {naive_real}",
            c.se_naive
        );
        assert!(
            c.se_corrected >= naive_real,
            "corrected {} < real {naive_real} (m = {m}, M = {syntheses})",
            c.se_corrected
        );
        assert!(r.warning.is_some());
        let want = ((m * syntheses) as f64 / n as f64 + 1.0).sqrt();
        assert!((r.inflation - want).abs() < 1e-9);
    }
    // Logistic regression on a two-class target.
    let tables = vec![linear(4000, 7)];
    let r = syn::infer(&tables, "label", n).unwrap();
    assert_eq!(r.model, "logistic_regression");
    assert_eq!(r.positive_class.as_deref(), Some("yes"));
    let real_fit = syn::infer(std::slice::from_ref(&real), "label", n).unwrap();
    let (c, c_real) = (
        r.coefficients.iter().find(|c| c.term == "x1").unwrap(),
        real_fit
            .coefficients
            .iter()
            .find(|c| c.term == "x1")
            .unwrap(),
    );
    assert!(
        c.se_corrected >= c_real.se_naive,
        "{} vs {}",
        c.se_corrected,
        c_real.se_naive
    );
    // A categorical term is named by its level.
    assert!(r.coefficients.iter().any(|c| c.term.starts_with("g=")));
    // Bad input.
    assert!(syn::infer(&[], "y", n).is_err());
    assert!(syn::infer(&tables, "y", 0).is_err());
    assert!(syn::infer(&tables, "nope", n)
        .unwrap_err()
        .to_string()
        .contains("'nope'"));
    let mixed = vec![linear(100, 1), linear(200, 2)];
    assert!(syn::infer(&mixed, "y", n).is_err());
}

#[test]
fn cli_tune_and_infer() {
    let dir = tempfile::tempdir().unwrap();
    let train = linear(200, 21);
    let model = small_model(&train);
    let mpath = dir.path().join("m.svmodel");
    model.save(&mpath).unwrap();
    let (tp, vp) = (dir.path().join("train.csv"), dir.path().join("valid.csv"));
    write_csv(&train, &tp).unwrap();
    write_csv(&linear(200, 22), &vp).unwrap();
    let (json, svg) = (dir.path().join("curve.json"), dir.path().join("curve.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_synthvol"))
        .args(["tune", "--model"])
        .arg(&mpath)
        .arg("--train")
        .arg(&tp)
        .arg("--valid")
        .arg(&vp)
        .args([
            "--target",
            "label",
            "--ratios",
            "1:3",
            "--repeats",
            "1",
            "--json",
        ])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("chosen: ρ ="), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 3);
    assert_eq!(v["analysis"], "linear");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // The boosting analysis, named in the output and the JSON; an unknown one is refused.
    let boost = |analysis: &str| {
        Command::new(env!("CARGO_BIN_EXE_synthvol"))
            .args(["tune", "--model"])
            .arg(&mpath)
            .arg("--train")
            .arg(&tp)
            .arg("--valid")
            .arg(&vp)
            .args(["--target", "label", "--ratios", "1", "--repeats", "1"])
            .args(["--analysis", analysis, "--json"])
            .arg(&json)
            .output()
            .unwrap()
    };
    let out = boost("boosting");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("of gradient boosting on 'label'"),
        "{stdout}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["analysis"], "boosting");
    let out = boost("forest");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown analysis 'forest'"));
    let out = Command::new(env!("CARGO_BIN_EXE_synthvol"))
        .args(["tune", "--model"])
        .arg(&mpath)
        .arg("--train")
        .arg(&tp)
        .arg("--valid")
        .arg(&vp)
        .args(["--target", "label", "--ratios", "3:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ratios '3:1'"));

    let sp = dir.path().join("syn.csv");
    write_csv(&linear(2000, 23), &sp).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_synthvol"))
        .args(["infer", "--synthetic"])
        .arg(&sp)
        .args(["--target", "y", "--real-rows", "200"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("corrected SE") && stdout.contains("x1"),
        "{stdout}"
    );
    assert!(stderr.contains("too small"), "{stderr}");
}

/// `synthvol test` end to end with real training rows, and its errors for bad input.
#[test]
fn cli_syn_test() {
    let dir = tempfile::tempdir().unwrap();
    let mpath = dir.path().join("m.svmodel");
    small_model(&linear(300, 31)).save(&mpath).unwrap();
    let (dp, tp) = (dir.path().join("data.csv"), dir.path().join("train.csv"));
    write_csv(&linear(60, 32), &dp).unwrap();
    write_csv(&linear(300, 33), &tp).unwrap();
    let json = dir.path().join("test.json");
    let run = |train: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_synthvol"))
            .args(["test", "--model"])
            .arg(&mpath)
            .arg("--data")
            .arg(&dp)
            .arg("--train")
            .arg(train)
            .args(["--target", "y", "--features", "x1", "--steps", "20"])
            .args(extra)
            .output()
            .unwrap()
    };
    // The default ratio grid (0.1 … 10).
    let out = run(&tp, &["--mc", "61", "--json", json.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("est. Type-I"), "{stdout}");
    assert!(stderr.contains("300 real training rows"), "{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 8);
    assert_eq!(v["points"][0]["ratio"], 0.1);
    assert_eq!(v["n"], 60);
    // Too few Monte Carlo chunks for α, and training rows without a feature, are named.
    let out = run(&tp, &["--mc", "20"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 61"));
    let partial = dir.path().join("partial.csv");
    write_csv(&linear(100, 34).select_columns(&[0, 2, 3, 4]), &partial).unwrap();
    let out = run(&partial, &["--mc", "61"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("x2"));
}

/// y depends strongly on x1 and not at all on `noise`: Syn-Test rejects for x1, and its
/// estimated Type-I curve for `noise` stays low. Small settings; the simulation in
/// examples/syn_test_simulation.rs measures the rates properly.
#[test]
fn syn_test_separates_a_relevant_from_an_irrelevant_feature() {
    let make = |n: usize, seed: u64| {
        let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 9);
        let (mut x1, mut x2, mut noise, mut y) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let (a, b, c) = (r.u(), r.u(), r.u());
            x1.push(a);
            x2.push(b);
            noise.push(c);
            y.push(3.0 * a + b + 0.2 * r.normal());
        }
        Table::new(
            Schema {
                columns: vec![num("x1"), num("x2"), num("noise"), num("y")],
            },
            vec![
                ColumnData::Numeric(x1),
                ColumnData::Numeric(x2),
                ColumnData::Numeric(noise),
                ColumnData::Numeric(y),
            ],
        )
        .unwrap()
    };
    let mut o = FitOptions {
        layers: vec![64, 64],
        dim_t: 16,
        timesteps: 20,
        seed: 2,
        ..FitOptions::default()
    };
    o.optim.steps = 800;
    o.optim.batch_size = 256;
    let pre =
        Synthesizer::fit(&make(3000, 1), &FitRequest::from_options(&o), &mut |_| true).unwrap();
    let ft = FitRequest {
        steps: Some(100),
        batch_size: Some(64),
        ..FitRequest::default()
    };
    let mut tw = syn::twins(&pre, &make(200, 2), &ft, 3, &mut |_| true).unwrap();
    let training = make(1000, 4);
    let opts = |f: &str| {
        let mut o = syn::SynTestOptions::new("y", &[f]);
        o.ratios = vec![1.0, 2.0];
        o.mc = 61;
        o.training = Some(training.clone());
        o
    };
    let alt = syn::syn_test(&mut tw, &opts("x1"), &mut |_| true).unwrap();
    assert!(alt
        .notes
        .iter()
        .any(|n| n.contains("1000 real training rows")));
    assert_eq!(alt.points.len(), 2);
    assert_eq!(
        alt.points.iter().map(|p| p.m).collect::<Vec<_>>(),
        [200, 400]
    );
    // On the twins' own data x1's effect is plain at every volume.
    assert!(alt.points.iter().all(|p| p.rejection_rate > 0.9), "{alt:?}");
    // Without real training rows, f and g come from twin 1's synthetic rows.
    let mut synthetic_models = opts("noise");
    synthetic_models.training = None;
    synthetic_models.model_rows = Some(2000);
    let null = syn::syn_test(&mut tw, &synthetic_models, &mut |_| true).unwrap();
    assert!(null.notes.iter().any(|n| n.contains("2000 synthetic rows")));
    for r in [&alt, &null] {
        assert!(r.points.iter().all(|p| (0.0..=1.0).contains(&p.type_i)));
        // A decision only where the estimated Type-I error allows one.
        match r.chosen_ratio {
            Some(rho) => {
                let p = r.points.iter().find(|p| p.ratio == rho).unwrap();
                assert!(p.type_i <= r.alpha);
                assert_eq!(r.reject, r.p_value.unwrap() <= r.alpha);
            }
            None => assert!(!r.reject && r.p_value.is_none()),
        }
    }
    // x1 matters far more than pure noise on the twins' data.
    assert!(
        alt.points[0].rejection_rate > null.points[0].rejection_rate,
        "{alt:?}\n{null:?}"
    );
    // Bad input is named.
    let e = syn::syn_test(&mut tw, &opts("y"), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("target"), "{e}");
    let e = syn::syn_test(&mut tw, &opts("nope"), &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("'nope'"), "{e}");
    let mut coarse = opts("x1");
    coarse.mc = 60;
    let e = syn::syn_test(&mut tw, &coarse, &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("at least 61"), "{e}");
    let mut partial = opts("x1");
    partial.training = Some(training.select_columns(&[0, 3]));
    let e = syn::syn_test(&mut tw, &partial, &mut |_| true).unwrap_err();
    assert!(e.to_string().contains("x2"), "{e}");
}
