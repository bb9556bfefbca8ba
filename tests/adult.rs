//! Quality on the bundled Adult data at reduced size (the full-size figures are in the
//! README and come from `synthvol demo`): a logistic regression trained on synthetic rows
//! is tested on the real test file against the same model trained on the real rows.

use synthvol::model::{FitOptions, SampleOptions, Synthesizer};
use synthvol::{datasets, metrics};

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
    let model = Synthesizer::fit(&train, &o, &mut |_| true).expect("fit");
    let syn = model
        .sample(12_000, 2, &SampleOptions::default(), &mut |_| true)
        .expect("sample");
    let opts = metrics::EvaluateOptions {
        target: Some("income".into()),
        ..Default::default()
    };
    let r = metrics::evaluate(&train, &syn, Some(&test), &opts, &mut |_| true).expect("evaluate");
    let u = r.utility.as_ref().expect("utility");
    let (real_acc, syn_acc) = (
        u.real.accuracy.expect("classification"),
        u.synthetic.accuracy.expect("classification"),
    );
    let gap = u.accuracy_gap_points.expect("classification");
    eprintln!(
        "mean column {:.4}, correlation {:.4}, accuracy real {:.4} synthetic {:.4} (gap {:.2} points)",
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
