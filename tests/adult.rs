//! Quality on the bundled Adult data at reduced size (the full-size figures are in the
//! README and come from `synthvol demo`): a logistic regression trained on synthetic rows
//! is tested on the real test file against the same model trained on the real rows.

use synthvol::model::{FitOptions, FitRequest, SampleOptions, Synthesizer};
use synthvol::table::Table;
use synthvol::{datasets, metrics};

/// The report for synthetic rows of Adult with 'income' as the utility target.
fn evaluate_income(train: &Table, syn: &Table, test: &Table) -> metrics::Report {
    let opts = metrics::EvaluateOptions {
        target: Some("income".into()),
        ..Default::default()
    };
    metrics::evaluate(train, syn, Some(test), &opts, &mut |_| true).expect("evaluate")
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "minutes of numerics without optimisation: run `cargo test --release`"
)]
fn adult_reduced_size_meets_the_quality_bars() {
    let train = datasets::adult_train().expect("bundled data");
    let test = datasets::adult_test().expect("bundled data");
    let mut o = FitOptions {
        target: Some("income".into()),
        layers: vec![256, 256],
        timesteps: 100,
        seed: 1,
        ..FitOptions::default()
    };
    o.optim.steps = 2500;
    o.optim.batch_size = 512;
    let model =
        Synthesizer::fit(&train, &FitRequest::from_options(&o), &mut |_| true).expect("fit");
    let syn = model
        .sample(12_000, 2, &SampleOptions::default(), &mut |_| true)
        .expect("sample");
    let r = evaluate_income(&train, &syn, &test);
    let u = r.utility.as_ref().expect("utility");
    let (real_acc, syn_acc) = (
        u.real.accuracy.expect("classification"),
        u.synthetic.accuracy.expect("classification"),
    );
    let gap = u.accuracy_gap_points.expect("classification");
    eprintln!(
        "on {}: mean column {:.4}, correlation {:.4}, accuracy real {:.4} synthetic {:.4} (gap {:.2} points)",
        model.record().backend,
        r.fidelity.mean_column_score,
        r.fidelity.correlation_similarity.unwrap_or(f64::NAN),
        real_acc, syn_acc, gap
    );
    assert!(
        r.fidelity.mean_column_score >= 0.90,
        "mean column score {}",
        r.fidelity.mean_column_score
    );
    assert!(r.fidelity.correlation_similarity.expect("numeric pairs") >= 0.90);
    assert!(gap <= 2.5, "accuracy gap {gap} points");
    // The real-data baseline is the known figure for this model on Adult.
    assert!(
        real_acc > 0.84 && real_acc < 0.87,
        "real accuracy {real_acc}"
    );
}

/// The private path at the bar: ε = 1 on the full training file with the demo's
/// private settings (T = 20, 600 steps), accuracy within 5 points of the real-data model.
/// The mechanism's randomness is fixed (a test-only seed) so the figure is reproducible; over
/// nine fits with fresh noise the gap was 2.05-2.92 points.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "minutes of numerics without optimisation: run `cargo test --release`"
)]
fn adult_private_reduced_size_meets_the_quality_bars() {
    use synthvol::model::{DpOptions, DP_TIMESTEPS};
    let train = datasets::adult_train().expect("bundled data");
    let test = datasets::adult_test().expect("bundled data");
    let public = datasets::adult_schema().expect("bundled schema");
    let mut o = FitOptions {
        target: Some("income".into()),
        layers: vec![256, 256],
        timesteps: DP_TIMESTEPS,
        seed: 1,
        ..FitOptions::default()
    };
    o.optim.steps = 600;
    o.optim.batch_size = 8192;
    o.optim.lr = 3e-3;
    let dp = DpOptions {
        epsilon: 1.0,
        delta: 1e-5,
        noise_seed: Some(7),
        ..DpOptions::default()
    };
    let model = Synthesizer::fit(
        &train,
        &FitRequest::from_private_options(&o, &dp, public.clone()),
        &mut |_| true,
    )
    .expect("fit");
    let spent = model
        .record()
        .privacy
        .as_ref()
        .expect("privacy record")
        .epsilon;
    assert!(spent <= 1.0 && spent > 0.99, "ε spent {spent}");
    let syn = model
        .sample(12_000, 2, &SampleOptions::default(), &mut |_| true)
        .expect("sample");
    let r = evaluate_income(&train, &syn, &test);
    let gap = r
        .utility
        .as_ref()
        .and_then(|u| u.accuracy_gap_points)
        .expect("classification");
    eprintln!(
        "private: mean column {:.4}, correlation {:.4}, accuracy gap {gap:.2} points",
        r.fidelity.mean_column_score,
        r.fidelity.correlation_similarity.unwrap_or(f64::NAN),
    );
    assert!(
        r.fidelity.mean_column_score >= 0.82,
        "mean column score {}",
        r.fidelity.mean_column_score
    );
    assert!(gap <= 5.0, "accuracy gap {gap} points");
}
