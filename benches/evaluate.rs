//! `synthvol evaluate` at Adult size: 32,561 real rows against 32,561 synthetic rows with the
//! 16,281 test rows as holdout, every metric at its default settings, timed per part.
//!
//! The synthetic rows here are the training rows with every column resampled on its own (a
//! generator that learned only the marginals): the metrics' cost does not depend on how good
//! the rows are, and the bench needs no fitted model. `cargo bench --bench evaluate`.

use std::time::Instant;

use synthvol::datasets;
use synthvol::metrics::{self, EvaluateOptions};
use synthvol::table::{ColumnData, Table};

fn marginals_only(t: &Table, seed: u64) -> Table {
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize
    };
    let n = t.n_rows();
    let cols = t
        .columns()
        .iter()
        .map(|c| match c {
            ColumnData::Numeric(v) => ColumnData::Numeric((0..n).map(|_| v[next() % n]).collect()),
            ColumnData::Categorical(v) => {
                ColumnData::Categorical((0..n).map(|_| v[next() % n]).collect())
            }
        })
        .collect();
    Table::new(t.schema().clone(), cols).expect("same schema")
}

fn main() {
    let train = datasets::adult_train().expect("bundled data");
    let test = datasets::adult_test().expect("bundled data");
    let syn = marginals_only(&train, 1);
    let full = EvaluateOptions {
        target: Some("income".into()),
        ..EvaluateOptions::default()
    };
    // Each part alone (the others switched off), then everything together.
    let parts: [(&str, EvaluateOptions); 5] = [
        (
            "base: marginals, pairs, Fréchet",
            EvaluateOptions {
                target: None,
                wasserstein_rows: 0,
                privacy_rows: 0,
                propensity_rows: 0,
                ..full.clone()
            },
        ),
        (
            "base + pMSE, 5-fold detection",
            EvaluateOptions {
                target: None,
                wasserstein_rows: 0,
                privacy_rows: 0,
                ..full.clone()
            },
        ),
        (
            "base + Wasserstein (1000 rows)",
            EvaluateOptions {
                target: None,
                privacy_rows: 0,
                propensity_rows: 0,
                ..full.clone()
            },
        ),
        (
            "base + privacy risk (20,000)",
            EvaluateOptions {
                target: None,
                wasserstein_rows: 0,
                propensity_rows: 0,
                ..full.clone()
            },
        ),
        ("everything, with utility", full.clone()),
    ];
    println!(
        "evaluate on Adult: {} real, {} synthetic, {} holdout rows",
        train.n_rows(),
        syn.n_rows(),
        test.n_rows()
    );
    for (name, opts) in parts {
        let t = Instant::now();
        let holdout = (opts.privacy_rows > 0 || opts.target.is_some()).then_some(&test);
        let r = metrics::evaluate(&train, &syn, holdout, &opts, &mut |_| true).expect("evaluate");
        println!(
            "  {name:<30} {:>6.2} s   (mean column {:.3}, contingency {:.3})",
            t.elapsed().as_secs_f64(),
            r.fidelity.mean_column_score,
            r.fidelity.contingency_similarity.unwrap_or(f64::NAN)
        );
    }
}
