//! Private fits: the preprocessing touches the rows only through counts of bounded
//! sensitivity, the model records what it spent, and bad private setups are clear errors.

mod common;

use common::*;
use synthvol::internals::backend::{Backend, CpuBackend};
use synthvol::internals::encode::{encoder_from_counts, histogram_count, private_counts};
use synthvol::model::{DpOptions, FitRequest, SampleOptions, Synthesizer};
use synthvol::table::{PublicColumnKind, PublicSchema, Table};

fn public_for(table: &Table) -> PublicSchema {
    let mut p = PublicSchema::from_table(table);
    // Public bounds wider than the data, and a level the data never show.
    for c in &mut p.columns {
        match &mut c.kind {
            PublicColumnKind::Numeric { min, max, .. } => {
                *min = (*min - 1.0).floor();
                *max = (*max + 1.0).ceil();
            }
            PublicColumnKind::Categorical { levels } if c.name == "d" => {
                levels.push("never-seen".into())
            }
            _ => {}
        }
    }
    p
}

fn without_row(t: &Table, r: usize) -> Table {
    let idx: Vec<usize> = (0..t.n_rows()).filter(|&i| i != r).collect();
    t.select_rows(&idx)
}

#[test]
fn preprocessing_counts_have_sensitivity_sqrt_m() {
    let raw = mixed_table(400, 11);
    let public = public_for(&raw);
    let table = public.apply(&raw).expect("apply");
    let target = Some(4);
    let m = histogram_count(&public, target);
    assert_eq!(m, 4, "three numeric histograms and the class counts");
    let full = private_counts(&table, &public, target);
    let key = [9u8; 32];
    let be = CpuBackend::<f64>::new();
    let noisy = |c: &Vec<f64>| {
        let mut v = c.clone();
        be.add_noise_and_scale(&mut v, c.len(), 5.0, 1.0, &key, 1)
            .unwrap();
        v
    };
    let noisy_full = noisy(&full);
    for r in [0, 17, 123, 399] {
        let t2 = without_row(&table, r);
        let c2 = private_counts(&t2, &public, target);
        assert_eq!(c2.len(), full.len());
        let diff: f64 = full
            .iter()
            .zip(&c2)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            diff <= (m as f64).sqrt() + 1e-12,
            "row {r}: counts move by {diff} > √{m}"
        );
        assert!(diff >= 1.0, "the row is counted");
        // With the noise fixed, the released statistics differ exactly by the raw difference.
        let n2 = noisy(&c2);
        let ndiff: f64 = noisy_full
            .iter()
            .zip(&n2)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((ndiff - diff).abs() < 1e-9);
    }
    // The encoder is a function of the public schema, the noisy counts and n alone.
    let e1 = encoder_from_counts(&public, target, &noisy_full, table.n_rows()).expect("encoder");
    let e2 = encoder_from_counts(&public, target, &noisy_full, table.n_rows()).expect("encoder");
    assert_eq!(format!("{e1:?}"), format!("{e2:?}"));
}

fn dp_opts() -> DpOptions {
    DpOptions {
        epsilon: 3.0,
        noise_seed: Some(5),
        ..DpOptions::default()
    }
}

#[test]
fn a_private_fit_records_its_spend_and_uses_the_public_schema() {
    let raw = mixed_table(600, 12);
    let public = public_for(&raw);
    let mut o = quick_options(0);
    o.optim.steps = 60;
    let m = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &dp_opts(), public.clone()),
        &mut no_progress(),
    )
    .expect("private fit");
    let p = m.record().privacy.as_ref().expect("privacy record");
    assert!(p.epsilon <= 3.0 && p.epsilon > 2.9, "ε spent {}", p.epsilon);
    assert!(p.preprocessing_epsilon < 0.31 && p.preprocessing_epsilon > 0.25);
    assert_eq!(p.phases.len(), 2);
    assert!(p.noise_source.contains("test seed 5"));
    assert!(
        m.record().loss_history.is_empty(),
        "no loss history from private rows"
    );
    // The schema's unseen level is known to the model.
    let synthvol::table::ColumnKind::Categorical { levels } = &m.schema().columns[3].kind else {
        panic!()
    };
    assert!(levels.iter().any(|l| l == "never-seen"));
    // It survives a round trip and samples.
    let back = Synthesizer::from_bytes(&m.to_bytes().expect("bytes")).expect("load");
    assert_eq!(
        back.record().privacy.as_ref().map(|p| p.epsilon),
        Some(p.epsilon)
    );
    let s = back
        .sample(200, 1, &SampleOptions::default(), &mut no_progress())
        .expect("sample");
    assert_eq!(s.n_rows(), 200);
    // Same test seed, same model.
    let m2 = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &dp_opts(), public.clone()),
        &mut no_progress(),
    )
    .expect("private fit");
    assert_eq!(m.weights(), m2.weights());
}

#[test]
fn private_fits_do_not_depend_on_the_thread_count() {
    let raw = mixed_table(600, 13);
    let public = public_for(&raw);
    for augment in [1, 3] {
        // Micro-batches of 450 draws run as three or four shards of whole rows.
        let fit = |threads| {
            let mut o = quick_options(threads);
            o.optim.steps = 20;
            o.optim.batch_size = 450;
            let dp = DpOptions {
                augment,
                ..dp_opts()
            };
            Synthesizer::fit(
                &raw,
                &FitRequest::from_private_options(&o, &dp, public.clone()),
                &mut no_progress(),
            )
            .expect("private fit")
        };
        assert_eq!(fit(1).weights(), fit(2).weights(), "K = {augment}");
    }
}

#[test]
fn private_fit_errors_are_clear() {
    let raw = mixed_table(300, 13);
    let mut public = public_for(&raw);
    let o = quick_options(1);
    // A level the schema does not declare.
    if let PublicColumnKind::Categorical { levels } = &mut public.columns[3].kind {
        levels.retain(|l| l != "y");
    }
    let e = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &dp_opts(), public.clone()),
        &mut no_progress(),
    )
    .expect_err("undeclared level");
    assert!(e.message.contains("'y'"), "{}", e.message);
    // Missing values in a column declared never missing.
    let mut public = public_for(&raw);
    public.columns[2].missing = false;
    let e = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &dp_opts(), public.clone()),
        &mut no_progress(),
    )
    .expect_err("missing");
    assert!(
        e.message.contains("'c'") && e.message.contains("never missing"),
        "{}",
        e.message
    );
    // An impossible budget.
    let public = public_for(&raw);
    let mut o2 = o.clone();
    o2.optim.steps = 1_000_000;
    // Enough ε for the preprocessing, too little for a million steps at q = 1.
    let dp = DpOptions {
        epsilon: 0.05,
        sample_rate: Some(1.0),
        ..dp_opts()
    };
    let e = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o2, &dp, public.clone()),
        &mut no_progress(),
    )
    .expect_err("budget");
    // The phase that fails is named, with the user's plan (not the preprocessing's).
    assert!(
        e.message.contains("DP-SGD's part of the budget")
            && e.message
                .contains("1000000 training steps at sampling rate 1")
            && e.message.contains("fewer 'steps'"),
        "{}",
        e.message
    );
    let tiny = DpOptions {
        epsilon: 1e-6,
        ..dp_opts()
    };
    let e = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &tiny, public.clone()),
        &mut no_progress(),
    )
    .expect_err("budget");
    assert!(
        e.message.contains("the private preprocessing"),
        "{}",
        e.message
    );
}

/// Calibration of a private fit reads the rows only through the released noisy counts: with
/// the noise fixed, removing a row moves its inputs by exactly that row's counts; the spend
/// covers them; the calibrated model draws the levels at the released frequencies.
#[test]
fn calibration_reads_the_rows_only_through_the_released_counts() {
    let raw = mixed_table(500, 14);
    let public = public_for(&raw);
    let mut o = quick_options(0);
    o.optim.steps = 30;
    let dp = DpOptions {
        calibrate: true,
        ..dp_opts()
    };
    let fit = |t: &Table| {
        Synthesizer::fit(
            t,
            &FitRequest::from_private_options(&o, &dp, public.clone()),
            &mut no_progress(),
        )
        .expect("private fit")
    };
    let (a, b) = (fit(&raw), fit(&without_row(&raw, 7)));
    let (ca, cb) = (
        &a.record().calibration.as_ref().expect("calibrated").counts,
        &b.record().calibration.as_ref().expect("calibrated").counts,
    );
    let exact_a = a.block_counts(&raw).unwrap();
    let exact_b = a.block_counts(&without_row(&raw, 7)).unwrap();
    assert_eq!(ca.len(), exact_a.len());
    assert!(!ca.is_empty());
    let mut moved = 0.0;
    for j in 0..ca.len() {
        for l in 0..ca[j].len() {
            let (released, exact) = (ca[j][l] - cb[j][l], exact_a[j][l] - exact_b[j][l]);
            assert!((released - exact).abs() < 1e-9, "block {j} level {l}");
            moved += exact.abs();
            assert!(ca[j][l] != exact_a[j][l], "released counts carry noise");
        }
    }
    assert_eq!(moved, ca.len() as f64, "one row, one level per block");
    // The release: histograms and class counts plus one vector per block, one mechanism.
    let p = a.record().privacy.as_ref().unwrap();
    assert_eq!(
        p.preprocessing.histograms,
        histogram_count(&public, Some(4)) + ca.len()
    );
    assert!(p.epsilon <= 3.0 && p.epsilon > 2.9, "ε spent {}", p.epsilon);
    // Calibrated within the sampling resolution of the released frequencies.
    let syn = a
        .sample(4000, 3, &SampleOptions::default(), &mut no_progress())
        .unwrap();
    let got = a.block_counts(&syn).unwrap();
    for (g, t) in got.iter().zip(ca) {
        let t: Vec<f64> = t.iter().map(|x| x.max(0.0)).collect();
        let (gs, ts): (f64, f64) = (g.iter().sum(), t.iter().sum());
        for (x, y) in g.iter().zip(&t) {
            assert!((x / gs - y / ts).abs() < 0.05, "{g:?} vs {t:?}");
        }
    }
}
