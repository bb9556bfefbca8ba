//! Private fits: the preprocessing touches the rows only through counts of bounded
//! sensitivity, the model records what it spent, and bad private setups are clear errors.

mod common;

use common::*;
use synthvol::internals::backend::{Backend, CpuBackend};
use synthvol::internals::encode::{
    encoder_from_counts, histogram_bins, histogram_count, private_counts,
};
use synthvol::model::{DpOptions, FitRequest, SampleOptions, Synthesizer};
use synthvol::table::ColumnData;
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
    let full = private_counts(&table, &public, target, 100);
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
        let c2 = private_counts(&t2, &public, target, 100);
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
    let e1 =
        encoder_from_counts(&public, target, &noisy_full, table.n_rows(), 100).expect("encoder");
    let e2 =
        encoder_from_counts(&public, target, &noisy_full, table.n_rows(), 100).expect("encoder");
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
    assert_eq!(p.phases.len(), 3, "preprocessing, target pairs, DP-SGD");
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
    // The quantile map belongs to a new private fit.
    let plain = FitRequest {
        quantile_map: Some(true),
        ..FitRequest::from_options(&o)
    };
    let e = Synthesizer::fit(&raw, &plain, &mut no_progress()).expect_err("not private");
    assert!(e.message.contains("'quantile_map'"), "{}", e.message);
    let model = Synthesizer::fit(&raw, &FitRequest::from_options(&o), &mut no_progress()).unwrap();
    let ft = FitRequest {
        quantile_map: Some(false),
        steps: Some(2),
        ..FitRequest::default()
    };
    let e = model
        .fine_tune(&raw, &ft, &mut no_progress())
        .expect_err("fine-tuning");
    assert!(
        e.message.contains("'quantile_map'") && e.message.contains("fine-tuning"),
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

/// KS distance of the values of numeric column `k` of `t` to the encoder's fitted CDF (read
/// through the encoder's own transform: a value's score, through Φ).
fn ks_to_fitted(model: &Synthesizer, t: &Table, k: usize) -> f64 {
    let ne = &model.encoder().numeric[k];
    let ColumnData::Numeric(v) = t.column(ne.column) else {
        panic!("numeric")
    };
    let mut p: Vec<f64> = v
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| synthvol::internals::stats::norm_cdf(ne.forward(x, 0.5)))
        .collect();
    p.sort_by(f64::total_cmp);
    let n = p.len() as f64;
    p.iter()
        .enumerate()
        .map(|(i, &f)| (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn the_quantile_map_gives_the_released_marginal_and_reads_only_the_model() {
    let raw = mixed_table(500, 15);
    let public = public_for(&raw);
    let mut o = quick_options(0);
    o.optim.steps = 30;
    let fit = |map: bool| {
        Synthesizer::fit(
            &raw,
            &FitRequest::from_private_options(
                &o,
                &DpOptions {
                    quantile_map: map,
                    // Raking would move the marginal too; this test is about the map.
                    pair_share: Some(0.0),
                    ..dp_opts()
                },
                public.clone(),
            ),
            &mut no_progress(),
        )
        .expect("private fit")
    };
    let (plain, mapped) = (fit(false), fit(true));
    // Post-processing: the same release and the same network; only decoding differs.
    assert_eq!(plain.weights(), mapped.weights());
    assert!(plain.record().quantile_map.is_none());
    let rec = mapped.record().quantile_map.as_ref().expect("mapped");
    for (a, b) in plain
        .encoder()
        .numeric
        .iter()
        .zip(&mapped.encoder().numeric)
    {
        assert_eq!(a.quantiles, b.quantiles);
        assert!(a.score_map.is_none());
        let m = b.score_map.as_ref().expect("a map per numeric column");
        assert_eq!(m.len(), rec.levels);
        assert!(m.windows(2).all(|w| w[0] <= w[1]), "sorted");
    }
    assert!(mapped
        .record()
        .privacy
        .as_ref()
        .unwrap()
        .notes
        .iter()
        .any(|n| n.contains("quantile map")));
    // Column "a" (continuous): 30 private steps leave its scores far from standard normal;
    // the map brings the generated marginal onto the fitted (noisy) one.
    let opts = SampleOptions::default();
    let (sp, sm) = (
        plain.sample(4000, 3, &opts, &mut no_progress()).unwrap(),
        mapped.sample(4000, 3, &opts, &mut no_progress()).unwrap(),
    );
    let (before, after) = (ks_to_fitted(&plain, &sp, 0), ks_to_fitted(&mapped, &sm, 0));
    assert!(
        before > 0.08,
        "the unmapped model should be visibly off (KS {before})"
    );
    assert!(
        after < 0.05,
        "KS to the fitted marginal after the map: {after} (before {before})"
    );
    assert!(rec.largest_ks_before >= before - 0.05);
    // The map survives save and load, and a fine-tuning drops it.
    let back = Synthesizer::from_bytes(&mapped.to_bytes().unwrap()).unwrap();
    assert_eq!(
        back.encoder().numeric[0].score_map,
        mapped.encoder().numeric[0].score_map
    );
    let mut ft = FitRequest {
        steps: Some(5),
        ..FitRequest::default()
    };
    ft.seed = Some(1);
    let tuned = mapped
        .fine_tune(&raw, &ft, &mut no_progress())
        .expect("fine-tune");
    assert!(tuned
        .0
        .encoder()
        .numeric
        .iter()
        .all(|n| n.score_map.is_none()));
}

#[test]
fn histograms_adapt_their_bins_to_the_rows_and_the_noise() {
    assert_eq!(
        histogram_bins(372, 96.0),
        4,
        "floor: a few bins however loud the noise"
    );
    assert_eq!(histogram_bins(372, 9.3), 20);
    assert_eq!(histogram_bins(32_561, 90.0), 100, "Adult keeps 100 bins");
    assert_eq!(histogram_bins(10, 0.0), 100);
    // On few rows with loud noise the projected counts keep the data's shape: the encoder's
    // median of column "a" (mean 10, sd 3) stays near 10, where clamping every bin at 0 gave
    // nearly the uniform distribution over the public bounds (median −10).
    let raw = mixed_table(300, 21);
    let mut public = PublicSchema::from_table(&raw);
    if let PublicColumnKind::Numeric { min, max, .. } = &mut public.columns[0].kind {
        (*min, *max) = (-50.0, 30.0);
    }
    let table = public.apply(&raw).unwrap();
    let sd = 20.0;
    let bins = histogram_bins(300, sd);
    let exact = private_counts(&table, &public, Some(4), bins);
    let be = CpuBackend::<f64>::new();
    let mut noisy = exact.clone();
    be.add_noise_and_scale(&mut noisy, exact.len(), sd, 1.0, &[3u8; 32], 1)
        .unwrap();
    let enc = encoder_from_counts(&public, Some(4), &noisy, 300, bins).unwrap();
    let a = &enc.numeric[0];
    let median = a.inverse(0.0);
    assert!((median - 10.0).abs() < 5.0, "median {median}");
    let counts = &enc.label.as_ref().unwrap().counts;
    assert!(
        (counts.iter().sum::<f64>() - 300.0).abs() < 1e-6,
        "class counts total n: {counts:?}"
    );
}

/// The frequencies of (class, cell) of each released table in `rows`, and the largest
/// distance from the released shares (total variation over a table's cells).
fn pair_distance(pairs: &synthvol::model::TargetPairs, rows: &Table) -> f64 {
    let ColumnData::Categorical(y) = rows.column(pairs.target) else {
        panic!("categorical target")
    };
    pairs
        .pairs
        .iter()
        .map(|p| {
            let mut f = vec![0.0; p.counts.len()];
            for i in 0..rows.n_rows() {
                let cell = match (rows.column(p.column), &p.edges) {
                    (ColumnData::Numeric(v), Some(e)) if v[i].is_nan() => p.cells - 1,
                    (ColumnData::Numeric(v), Some(e)) => e.iter().filter(|&&x| x <= v[i]).count(),
                    (ColumnData::Categorical(c), None) if c[i] == synthvol::table::MISSING => {
                        p.cells - 1
                    }
                    (ColumnData::Categorical(c), None) => c[i] as usize,
                    _ => panic!("cell kinds"),
                };
                f[y[i] as usize * p.cells + cell] += 1.0 / rows.n_rows() as f64;
            }
            let total: f64 = p.counts.iter().sum();
            0.5 * f
                .iter()
                .zip(&p.counts)
                .map(|(a, c)| (a - c / total).abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

#[test]
fn target_pairs_are_accounted_and_raked_to_and_ranges_still_reproduce() {
    let raw = mixed_table(600, 16);
    let public = public_for(&raw);
    let mut o = quick_options(0);
    o.optim.steps = 400;
    // On 600 rows with a categorical target the fit releases target pairs by default.
    let m = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &dp_opts(), public.clone()),
        &mut no_progress(),
    )
    .expect("private fit");
    let p = m.record().privacy.as_ref().expect("privacy");
    let t = p.target_pairs.as_ref().expect("target pairs released");
    assert_eq!(p.phases.len(), 3, "preprocessing, target pairs, DP-SGD");
    assert!((t.share - synthvol::model::PRIVATE_PAIR_SHARE).abs() < 1e-12);
    assert_eq!(
        t.tables, 4,
        "the target with each of the four other columns"
    );
    assert!((t.sensitivity - 2.0).abs() < 1e-12);
    assert_eq!(p.phases[1].sigma, t.noise_multiplier);
    // The accountant's total is the budget, with the release's own ε about its share.
    assert!(
        p.epsilon <= 3.0 && p.epsilon > 2.99,
        "ε spent {}",
        p.epsilon
    );
    let alone = p.target_pairs_epsilon.expect("its ε");
    assert!(
        (alone - 0.4 * 3.0).abs() < 0.01,
        "ε of the pairs alone {alone}"
    );
    let pairs = m.target_pairs().expect("pairs");
    for q in &pairs.pairs {
        let total: f64 = q.counts.iter().sum();
        assert!(
            (total - 600.0).abs() < 1e-6,
            "projected onto the rows' total"
        );
    }
    // Raked rows follow the released shares, much closer than the network's own rows (the
    // same weights, unraked; after 400 quick private steps they hardly tie "a" to the class).
    // A pool of four blocks per block bounds how far weights can move a cell, hence 0.15.
    let opts = SampleOptions::default();
    let raked = m.sample(2048, 4, &opts, &mut no_progress()).unwrap();
    let plain = m
        .without_target_pairs()
        .sample(2048, 4, &opts, &mut no_progress())
        .unwrap();
    let (dr, dp) = (pair_distance(pairs, &raked), pair_distance(pairs, &plain));
    assert!(
        dr < 0.15,
        "largest TV to the released shares, raked: {dr} (unraked {dp})"
    );
    assert!(dr < 0.4 * dp, "raked {dr} vs the network's own rows {dp}");
    // Row r is the same bytes whatever range asks for it.
    let whole = m
        .sample_range(0, 700, 9, &opts, &mut no_progress())
        .unwrap();
    let part = m
        .sample_range(300, 400, 9, &opts, &mut no_progress())
        .unwrap();
    let idx: Vec<usize> = (300..700).collect();
    assert_eq!(
        format!("{:?}", whole.select_rows(&idx).columns()),
        format!("{:?}", part.columns())
    );
    // Given classes are not raked (they would be redrawn); a round trip keeps the pairs, and
    // a fine-tuning drops them.
    let given = SampleOptions {
        label: Some("yes".into()),
        ..SampleOptions::default()
    };
    let yes = m.sample(100, 1, &given, &mut no_progress()).unwrap();
    let ColumnData::Categorical(y) = yes.column(4) else {
        panic!()
    };
    assert!(y.iter().all(|&c| c == 1));
    let bytes = m.to_bytes().unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 3);
    let back = Synthesizer::from_bytes(&bytes).unwrap();
    assert_eq!(back.target_pairs(), m.target_pairs());
    let ft = FitRequest {
        steps: Some(5),
        seed: Some(1),
        ..FitRequest::default()
    };
    let tuned = m
        .fine_tune(&raw, &ft, &mut no_progress())
        .expect("fine-tune");
    assert!(tuned.0.target_pairs().is_none());
    assert_eq!(
        u32::from_le_bytes(tuned.0.to_bytes().unwrap()[8..12].try_into().unwrap()),
        2,
        "a model without pairs stays readable by older builds"
    );
    // Off on request, and errors for what cannot be.
    let off = DpOptions {
        pair_share: Some(0.0),
        ..dp_opts()
    };
    let m0 = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&o, &off, public.clone()),
        &mut no_progress(),
    )
    .unwrap();
    assert!(m0.target_pairs().is_none());
    assert_eq!(m0.record().privacy.as_ref().unwrap().phases.len(), 2);
    for (share, pre, what) in [
        (1.5, 0.1, "must be in [0, 1)"),
        (-0.1, 0.1, "must be in [0, 1)"),
        (0.6, 0.4, "leave DP-SGD no budget"),
    ] {
        let dp = DpOptions {
            pair_share: Some(share),
            preprocessing_share: pre,
            ..dp_opts()
        };
        let e = Synthesizer::fit(
            &raw,
            &FitRequest::from_private_options(&o, &dp, public.clone()),
            &mut no_progress(),
        )
        .expect_err("bad share");
        assert!(e.message.contains(what), "{}", e.message);
    }
    let mut numeric_target = o.clone();
    numeric_target.target = Some("a".into());
    let dp = DpOptions {
        pair_share: Some(0.3),
        ..dp_opts()
    };
    let e = Synthesizer::fit(
        &raw,
        &FitRequest::from_private_options(&numeric_target, &dp, public.clone()),
        &mut no_progress(),
    )
    .expect_err("numeric target");
    assert!(e.message.contains("categorical 'target'"), "{}", e.message);
    let e = Synthesizer::fit(
        &raw,
        &FitRequest {
            pair_share: Some(0.3),
            ..FitRequest::from_options(&o)
        },
        &mut no_progress(),
    )
    .expect_err("no DP");
    assert!(e.message.contains("'pair_share'"), "{}", e.message);
    let e = m
        .fine_tune(
            &raw,
            &FitRequest {
                pair_share: Some(0.3),
                ..ft.clone()
            },
            &mut no_progress(),
        )
        .expect_err("fine-tuning");
    assert!(e.message.contains("'pair_share'"), "{}", e.message);
}

#[test]
fn a_target_alone_is_a_clear_error_plain_and_private() {
    let raw = mixed_table(50, 17).select_columns(&[4]);
    let public = PublicSchema::from_table(&raw);
    let o = quick_options(0);
    for (what, request) in [
        ("plain", FitRequest::from_options(&o)),
        (
            "private",
            FitRequest::from_private_options(&o, &dp_opts(), public.clone()),
        ),
        (
            "private with pairs",
            FitRequest::from_private_options(
                &o,
                &DpOptions {
                    pair_share: Some(0.3),
                    ..dp_opts()
                },
                public.clone(),
            ),
        ),
    ] {
        let e = Synthesizer::fit(&raw, &request, &mut no_progress()).expect_err(what);
        assert!(
            e.message.contains("no column besides the target 'y'"),
            "{what}: {}",
            e.message
        );
    }
}
