//! synthvol's metrics against SciPy and scikit-learn on fixed inputs (scripts/metrics_reference.py):
//! KS, the Fréchet distance (scipy.linalg.sqrtm), exact Wasserstein distances
//! (linear_sum_assignment), ROC AUC, macro-F1, pMSE and least squares.
//!
//! Needs python3 with numpy, scipy and scikit-learn (scripts/bootstrap installs them). Without
//! them the test fails and says so; set SYNTHVOL_SKIP_REFERENCE=1 to skip it knowingly.

use std::process::Command;

use ndarray::{concatenate, Array2, Axis};
use serde_json::{json, Value};
use synthvol::metrics::{self, FeatureMap, FeatureOptions, LeastSquares};
use synthvol::table::{ColumnData, ColumnKind, ColumnSpec, Schema, Table};

mod common;
use common::Lcg;

/// Rows from a correlated Gaussian: x = L z with a fixed lower-triangular L, plus a shift.
fn gaussian(r: &mut Lcg, n: usize, d: usize, shift: f64, mix: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |_| r.normal())
        .rows()
        .into_iter()
        .flat_map(|z| {
            (0..d)
                .map(|i| {
                    shift * i as f64
                        + (0..=i)
                            .map(|j| {
                                z[j] * if i == j {
                                    1.0
                                } else {
                                    mix / (1 + i - j) as f64
                                }
                            })
                            .sum::<f64>()
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<ndarray::Array1<f64>>()
        .into_shape_with_order((n, d))
        .unwrap()
}

fn rows(a: &Array2<f64>) -> Value {
    json!(a.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>())
}

fn mixed(r: &mut Lcg, n: usize, shift: f64) -> Table {
    let (mut x, mut y, mut g) = (vec![], vec![], vec![]);
    for _ in 0..n {
        let a = r.normal() + shift;
        x.push(a);
        y.push(0.5 * a * a + r.normal());
        g.push(((a + r.normal()) > 0.0) as u32 + (r.u() < 0.2) as u32);
    }
    Table::new(
        Schema {
            columns: vec![
                ColumnSpec {
                    name: "x".into(),
                    kind: ColumnKind::Numeric { integer: false },
                },
                ColumnSpec {
                    name: "y".into(),
                    kind: ColumnKind::Numeric { integer: false },
                },
                ColumnSpec {
                    name: "g".into(),
                    kind: ColumnKind::Categorical {
                        levels: vec!["a".into(), "b".into(), "c".into()],
                    },
                },
            ],
        },
        vec![
            ColumnData::Numeric(x),
            ColumnData::Numeric(y),
            ColumnData::Categorical(g),
        ],
    )
    .unwrap()
}

fn python_has_reference_packages() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy, scipy, sklearn"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn metrics_match_scipy_and_scikit_learn() {
    if !python_has_reference_packages() {
        if std::env::var("SYNTHVOL_SKIP_REFERENCE").as_deref() == Ok("1") {
            eprintln!(
                "skipped: SYNTHVOL_SKIP_REFERENCE=1 and python3 lacks numpy/scipy/scikit-learn"
            );
            return;
        }
        panic!(
            "python3 with numpy, scipy and scikit-learn is needed for the reference comparison: \
             run ./scripts/bootstrap (or set SYNTHVOL_SKIP_REFERENCE=1 to skip this test)"
        );
    }
    let mut r = Lcg(2024);
    let mut ours = serde_json::Map::new();

    // KS, with ties and different sizes.
    let mut ks_inputs = vec![];
    for (i, (n, m)) in [(50usize, 70usize), (200, 30), (40, 40)].iter().enumerate() {
        let x: Vec<f64> = (0..*n).map(|_| (r.normal() * 4.0).round()).collect();
        let y: Vec<f64> = (0..*m).map(|_| (r.normal() * 4.0 + 1.0).round()).collect();
        ours.insert(format!("ks_{i}"), json!(metrics::ks_statistic(&x, &y)));
        ks_inputs.push(json!([x, y]));
    }

    // Fréchet: covariances that do not commute.
    let fa = gaussian(&mut r, 60, 5, 0.0, 0.9);
    let fb = gaussian(&mut r, 45, 5, 0.3, -0.6);
    ours.insert(
        "frechet".into(),
        json!(metrics::frechet_distance(fa.view(), fb.view()).unwrap()),
    );

    // Exact Wasserstein between equal-size samples, and in one dimension.
    let wa = gaussian(&mut r, 40, 3, 0.0, 0.5);
    let wb = gaussian(&mut r, 40, 3, 0.5, 0.0);
    let (w1, w2) = metrics::wasserstein(wa.view(), wb.view()).unwrap();
    ours.insert("w1".into(), json!(w1));
    ours.insert("w2".into(), json!(w2));
    let w1d_a: Vec<f64> = (0..25).map(|_| r.normal()).collect();
    let w1d_b: Vec<f64> = (0..25).map(|_| 2.0 * r.normal() + 0.5).collect();
    let col = |v: &[f64]| Array2::from_shape_vec((v.len(), 1), v.to_vec()).unwrap();
    let (w1_1d, _) = metrics::wasserstein(col(&w1d_a).view(), col(&w1d_b).view()).unwrap();
    ours.insert("w1_1d".into(), json!(w1_1d));

    // ROC AUC with ties; macro-F1 over three classes.
    let labels: Vec<bool> = (0..80).map(|_| r.u() < 0.4).collect();
    let scores: Vec<f64> = labels
        .iter()
        .map(|&l| ((r.normal() + l as u8 as f64) * 3.0).round() / 3.0)
        .collect();
    ours.insert(
        "auc".into(),
        json!(metrics::roc_auc(&scores, &labels).unwrap()),
    );
    let truth: Vec<u32> = (0..90).map(|_| (r.u() * 3.0) as u32).collect();
    let pred: Vec<u32> = truth
        .iter()
        .map(|&t| if r.u() < 0.6 { t } else { (r.u() * 3.0) as u32 })
        .collect();
    let pairs: Vec<(u32, u32)> = truth.iter().copied().zip(pred.iter().copied()).collect();
    ours.insert(
        "macro_f1".into(),
        json!(metrics::accuracy_macro_f1(&pairs, 3).1),
    );

    // pMSE on synthvol's design of two mixed tables.
    let real = mixed(&mut r, 300, 0.0);
    let syn = mixed(&mut r, 200, 0.3);
    let p = metrics::pmse(&real, &syn).unwrap();
    ours.insert("pmse".into(), json!(p.pmse));
    let map = FeatureMap::fit(
        &[&real, &syn],
        None,
        FeatureOptions {
            drop_reference: true,
            second_order: true,
            ..FeatureOptions::default()
        },
    )
    .unwrap();
    let x = concatenate(
        Axis(0),
        &[map.design(&real).view(), map.design(&syn).view()],
    )
    .unwrap();
    let t: Vec<f64> = (0..500).map(|i| (i >= 300) as u8 as f64).collect();

    // Least squares (in-sample R²) of y on the other columns.
    let ls_map = FeatureMap::fit(&[&real], Some(1), FeatureOptions::default()).unwrap();
    let lx = ls_map.design(&real);
    let ColumnData::Numeric(ly) = real.column(1) else {
        unreachable!()
    };
    let fit = LeastSquares::fit(lx.view(), ly).unwrap();
    let fitted = fit.predict(lx.view());
    ours.insert(
        "ls_r2".into(),
        json!(metrics::rmse_r2(fitted.as_slice().unwrap(), ly).1),
    );

    let input = json!({
        "ks": ks_inputs,
        "frechet_a": rows(&fa), "frechet_b": rows(&fb),
        "wasserstein_a": rows(&wa), "wasserstein_b": rows(&wb),
        "w1d_a": w1d_a, "w1d_b": w1d_b,
        "auc_labels": labels.iter().map(|&l| l as u8).collect::<Vec<_>>(), "auc_scores": scores,
        "f1_truth": truth, "f1_pred": pred,
        "pmse_x": rows(&x), "pmse_t": t,
        "ls_x": rows(&lx), "ls_y": ly,
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.json");
    std::fs::write(&path, input.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/metrics_reference.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Value = serde_json::from_slice(&out.stdout).expect("JSON from the script");
    // pMSE: ours has a tiny ridge and scikit-learn's solver stops at its own tolerance.
    let tolerance = |k: &str| if k == "pmse" { 1e-4 } else { 1e-9 };
    for (k, v) in &ours {
        let a = v.as_f64().unwrap();
        let b = reference[k]
            .as_f64()
            .unwrap_or_else(|| panic!("no reference for {k}"));
        let rel = (a - b).abs() / b.abs().max(1e-12);
        eprintln!("{k:<10} synthvol {a:<22} reference {b:<22} relative difference {rel:.2e}");
        assert!(rel <= tolerance(k), "{k}: synthvol {a} vs reference {b}");
    }
}
