//! The evaluation report on tables whose answers are known: identical tables score perfectly,
//! tables with independent marginals score worse on pairwise metrics, copies of training rows
//! are flagged by the privacy metrics, and bad input gives errors that name the problem.

use synthvol::metrics::{self, EvaluateOptions, Report};
use synthvol::table::{ColumnData, Schema, Table};
use synthvol::ErrorKind;

mod common;
use common::{cat, num, Lcg};

/// Correlated columns: x2 and y follow x1, g follows x1, label follows x1 + x2.
fn correlated(n: usize, seed: u64) -> Table {
    let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xABCD);
    let (mut x1, mut x2, mut y, mut g, mut label) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let a = r.normal();
        let b = 0.8 * a + 0.6 * r.normal();
        x1.push(a);
        x2.push(b);
        y.push(2.0 + 1.5 * a - b + 0.3 * r.normal());
        g.push(if a < -0.5 {
            0
        } else if a < 0.5 {
            1
        } else {
            2
        });
        label.push((a + b + 0.5 * r.normal() > 0.0) as u32);
    }
    Table::new(
        Schema {
            columns: vec![
                num("x1"),
                num("x2"),
                num("y"),
                cat("g", &["lo", "mid", "hi"]),
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

/// Each column shuffled on its own: the same marginals, no dependence between columns.
fn independent_columns(t: &Table, seed: u64) -> Table {
    let mut r = Lcg(seed);
    let cols = t
        .columns()
        .iter()
        .map(|c| {
            let n = c.len();
            let mut p: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                p.swap(i, (r.u() * (i + 1) as f64) as usize % (i + 1));
            }
            match c {
                ColumnData::Numeric(v) => ColumnData::Numeric(p.iter().map(|&i| v[i]).collect()),
                ColumnData::Categorical(v) => {
                    ColumnData::Categorical(p.iter().map(|&i| v[i]).collect())
                }
            }
        })
        .collect();
    Table::new(t.schema().clone(), cols).unwrap()
}

fn eval(real: &Table, syn: &Table, holdout: Option<&Table>, target: Option<&str>) -> Report {
    let opts = EvaluateOptions {
        target: target.map(String::from),
        wasserstein_rows: 300,
        ..EvaluateOptions::default()
    };
    metrics::evaluate(real, syn, holdout, &opts, &mut |_| true).expect("evaluate")
}

#[test]
fn identical_tables_score_perfect_fidelity() {
    let t = correlated(2000, 1);
    let r = eval(&t, &t, None, None);
    let f = &r.fidelity;
    assert!(f.columns.iter().all(|c| c.score == 1.0));
    assert_eq!(f.mean_column_score, 1.0);
    assert!((f.correlation_similarity.unwrap() - 1.0).abs() < 1e-12);
    assert!((f.contingency_similarity.unwrap() - 1.0).abs() < 1e-12);
    assert!(f.pmse.as_ref().unwrap().pmse < 1e-12);
    // Out of fold, a row's twin always sits in the other folds: the AUC falls below 0.5
    // rather than above, and the detection score is perfect.
    let d = f.detection.as_ref().unwrap();
    assert!(d.auc < 0.55 && d.score == 1.0, "detection AUC {}", d.auc);
    assert!(f.frechet_distance.unwrap() < 1e-9);
    // With no subsample both sides are the same rows: the assignment is the identity.
    let small = t.select_rows(&(0..300).collect::<Vec<_>>());
    let w = eval(&small, &small, None, None)
        .fidelity
        .wasserstein
        .unwrap();
    assert!(!w.subsampled && w.rows == 300);
    assert!(w.w1 < 1e-9 && w.w2 < 1e-9, "{} {}", w.w1, w.w2);
}

#[test]
fn independent_marginals_score_worse_on_pairwise_metrics() {
    let real = correlated(4000, 2);
    let same = correlated(4000, 3);
    let indep = independent_columns(&same, 4);
    let good = eval(&real, &same, None, None).fidelity;
    let bad = eval(&real, &indep, None, None).fidelity;
    // Marginals are as good as before...
    assert!((good.mean_column_score - bad.mean_column_score).abs() < 1e-12);
    assert!(bad.mean_column_score > 0.95);
    // ...but every pairwise metric sees the lost dependence.
    let (gc, bc) = (
        good.correlation_similarity.unwrap(),
        bad.correlation_similarity.unwrap(),
    );
    assert!(gc > 0.98 && bc < 0.85, "correlation {gc} vs {bc}");
    let (gk, bk) = (
        good.contingency_similarity.unwrap(),
        bad.contingency_similarity.unwrap(),
    );
    assert!(gk > 0.9 && bk < gk - 0.1, "contingency {gk} vs {bk}");
    let (gp, bp) = (good.pmse.unwrap(), bad.pmse.unwrap());
    // Equal sizes: S_pMSE averages 2 when both come from one distribution.
    assert_eq!(gp.s_pmse_reference, 2.0);
    assert!(
        gp.s_pmse < 4.0 && bp.s_pmse > 40.0,
        "S_pMSE {} vs {}",
        gp.s_pmse,
        bp.s_pmse
    );
    let (gd, bd) = (good.detection.unwrap().auc, bad.detection.unwrap().auc);
    assert!(gd < 0.56 && bd > 0.65, "detection {gd} vs {bd}");
    let (gf, bf) = (
        good.frechet_distance.unwrap(),
        bad.frechet_distance.unwrap(),
    );
    assert!(bf > 5.0 * gf, "Fréchet {gf} vs {bf}");
    let (gw, bw) = (good.wasserstein.unwrap(), bad.wasserstein.unwrap());
    assert!(bw.w2 > gw.w2, "W2 {} vs {}", gw.w2, bw.w2);
}

#[test]
fn copies_of_training_rows_are_flagged() {
    let train = correlated(3000, 5);
    let holdout = correlated(3000, 6);
    let copies = train.select_rows(&(0..3000).rev().collect::<Vec<_>>());
    let report = eval(&train, &copies, Some(&holdout), None);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("warning:") && n.contains("memorising")),
        "{:?}",
        report.notes
    );
    let p = report.privacy.unwrap();
    assert!(
        p.closer_to_training_share > 0.99,
        "{}",
        p.closer_to_training_share
    );
    assert!(p.membership_auc > 0.99, "{}", p.membership_auc);
    assert!(p.median_dcr_training < 1e-6);
    assert!(p.nndr_median < 1e-3);
    assert!(p.memorised_share > 0.99, "{}", p.memorised_share);

    // Fresh rows from the same distribution sit as close to the holdout as to the training.
    let fresh = correlated(3000, 7);
    let report = eval(&train, &fresh, Some(&holdout), None);
    assert!(!report.notes.iter().any(|n| n.starts_with("warning:")));
    let p = report.privacy.unwrap();
    assert!(
        (p.closer_to_training_share - 0.5).abs() < 0.05,
        "{}",
        p.closer_to_training_share
    );
    assert!(
        (p.membership_auc - 0.5).abs() < 0.05,
        "{}",
        p.membership_auc
    );
    assert!(
        (p.memorised_share - p.memorised_share_holdout).abs() < 0.03 && p.memorised_share < 0.2,
        "memorised {} vs holdout {}",
        p.memorised_share,
        p.memorised_share_holdout
    );
    assert!(!p.subsampled && p.training_rows == 3000);
}

#[test]
fn utility_for_classification_and_regression() {
    let train = correlated(3000, 8);
    let holdout = correlated(2000, 9);
    let syn = correlated(3000, 10);
    let u = eval(&train, &syn, Some(&holdout), Some("label"))
        .utility
        .unwrap();
    assert_eq!(u.task, "classification");
    let (ra, sa) = (u.real.accuracy.unwrap(), u.synthetic.accuracy.unwrap());
    assert!(ra > 0.8 && (ra - sa).abs() < 0.03, "{ra} {sa}");
    assert!(u.real.roc_auc.unwrap() > 0.9);
    assert!((u.ratio.accuracy.unwrap() - sa / ra).abs() < 1e-12);
    assert!(u.real.rmse.is_none());

    // y = 2 + 1.5 x1 − x2 + 0.3 ε: least squares explains nearly all of it.
    let u = eval(&train, &syn, Some(&holdout), Some("y"))
        .utility
        .unwrap();
    assert_eq!((u.task, u.model), ("regression", "least_squares"));
    let (rr, sr) = (u.real.r2.unwrap(), u.synthetic.r2.unwrap());
    // R² = 1 − 0.09 / 0.94 for this design.
    assert!(rr > 0.88 && (rr - sr).abs() < 0.01, "{rr} {sr}");
    assert!((u.real.rmse.unwrap() - 0.3).abs() < 0.03);
    // Trained on independent columns, the model learns nothing.
    let indep = independent_columns(&syn, 11);
    let u = eval(&train, &indep, Some(&holdout), Some("y"))
        .utility
        .unwrap();
    assert!(u.synthetic.r2.unwrap() < 0.1, "{:?}", u.synthetic.r2);
    assert!(u.accuracy_gap_points.is_none());
}

#[test]
fn report_has_stable_keys_and_renders() {
    let train = correlated(500, 12);
    let holdout = correlated(500, 13);
    let r = eval(&train, &correlated(500, 14), Some(&holdout), Some("label"));
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    let mut want = vec![
        "report_version",
        "real_rows",
        "synthetic_rows",
        "holdout_rows",
        "seed",
        "fidelity",
        "utility",
        "privacy",
        "notes",
        "plots",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
    for k in [
        "columns",
        "mean_column_score",
        "correlation_similarity",
        "contingency_similarity",
        "pmse",
        "detection",
        "frechet_distance",
        "wasserstein",
    ] {
        assert!(v["fidelity"].get(k).is_some(), "fidelity.{k}");
    }
    let text = r.to_text();
    for s in [
        "pMSE",
        "detection AUC",
        "Fréchet",
        "Wasserstein",
        "membership",
    ] {
        assert!(text.contains(s), "summary lacks {s}:\n{text}");
    }
    let html = metrics::to_html(&r);
    assert_eq!(html.matches("<svg").count(), 5 + 2);
    assert!(html.contains("x1") && html.ends_with("</html>\n"));
}

#[test]
fn html_escapes_column_names() {
    let schema = Schema {
        columns: vec![num("a<b>&\"c\""), num("z")],
    };
    let t = Table::new(
        schema,
        vec![
            ColumnData::Numeric((0..50).map(f64::from).collect()),
            ColumnData::Numeric((0..50).map(|i| f64::from(i % 7)).collect()),
        ],
    )
    .unwrap();
    let html = metrics::to_html(&eval(&t, &t, None, None));
    assert!(!html.contains("a<b>"));
    assert!(html.contains("a&lt;b&gt;&amp;&quot;c&quot;"));
}

#[test]
fn subsampling_is_seeded_and_reported() {
    let real = correlated(1500, 15);
    let syn = correlated(1500, 16);
    let opts = |seed| EvaluateOptions {
        seed,
        wasserstein_rows: 200,
        privacy_rows: 300,
        propensity_rows: 1000,
        ..EvaluateOptions::default()
    };
    let a = metrics::evaluate(&real, &syn, Some(&real), &opts(1), &mut |_| true).unwrap();
    let b = metrics::evaluate(&real, &syn, Some(&real), &opts(1), &mut |_| true).unwrap();
    let c = metrics::evaluate(&real, &syn, Some(&real), &opts(2), &mut |_| true).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    assert_ne!(
        a.fidelity.wasserstein.as_ref().unwrap().w1,
        c.fidelity.wasserstein.as_ref().unwrap().w1
    );
    assert!(a.fidelity.wasserstein.as_ref().unwrap().subsampled);
    assert_eq!(a.notes.len(), 3, "{:?}", a.notes);
    assert_eq!(a.fidelity.pmse.as_ref().unwrap().real_rows, 1000);
}

#[test]
fn cancelling_stops_the_evaluation() {
    let t = correlated(300, 17);
    let e =
        metrics::evaluate(&t, &t, None, &EvaluateOptions::default(), &mut |_| false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
}

fn err(real: &Table, syn: &Table, holdout: Option<&Table>, target: Option<&str>) -> String {
    let opts = EvaluateOptions {
        target: target.map(String::from),
        ..EvaluateOptions::default()
    };
    metrics::evaluate(real, syn, holdout, &opts, &mut |_| true)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_input_is_named() {
    let t = correlated(100, 18);
    let pick = |cols: &[usize]| {
        let s = Schema {
            columns: cols
                .iter()
                .map(|&j| t.schema().columns[j].clone())
                .collect(),
        };
        Table::new(s, cols.iter().map(|&j| t.column(j).clone()).collect()).unwrap()
    };
    // A column absent from the synthetic table, an extra one, a kind mismatch.
    let e = err(&t, &pick(&[0, 1, 2, 4]), None, None);
    assert!(e.contains("'g'") && e.contains("synthetic"), "{e}");
    let e = err(&pick(&[0, 1, 2, 4]), &t, None, None);
    assert!(e.contains("'g'") && e.contains("lacks"), "{e}");
    let as_cat = Table::new(
        Schema {
            columns: vec![cat("x1", &["1"])],
        },
        vec![ColumnData::Categorical(vec![0; 100])],
    )
    .unwrap();
    let e = err(&pick(&[0]), &as_cat, None, None);
    assert!(e.contains("'x1'") && e.contains("categorical"), "{e}");
    // Empty tables.
    let empty = t.select_rows(&[]);
    assert!(err(&t, &empty, None, None).contains("synthetic table has no rows"));
    assert!(err(&empty, &t, None, None).contains("real table has no rows"));
    assert!(err(&t, &t, Some(&empty), None).contains("holdout table has no rows"));
    // A target absent from one table, from all, or without a holdout.
    let e = err(&t, &t, Some(&pick(&[0, 1, 2, 3])), Some("label"));
    assert!(e.contains("holdout") && e.contains("'label'"), "{e}");
    let e = err(&t, &t, Some(&t), Some("nope"));
    assert!(e.contains("'nope'"), "{e}");
    let e = err(&t, &t, None, Some("label"));
    assert!(e.contains("holdout"), "{e}");
    // A level only the synthetic rows have is a difference to measure, and the report says so.
    let odd = Table::new(
        Schema {
            columns: vec![cat("g", &["lo", "mid", "hi", "weird"])],
        },
        vec![ColumnData::Categorical(vec![3; 10])],
    )
    .unwrap();
    let r = eval(&pick(&[3]), &odd, None, None);
    assert!(
        r.notes.iter().any(|n| n.contains("'weird'")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.fidelity.columns[0].score, 0.0);
}
