//! Knowledge transfer done for the analysis (the Syn workflow's SynBoost): early stopping of a
//! fine-tuning on rows held out of the fine-tuning sample (never validation or test rows),
//! sampling a group of a model conditioned on the group column, and the built-in boosting
//! analysis, checked against the boosting crate's own prediction.

use forust_ml::{GradientBooster, Matrix};
use synthvol::demo::{transfer, SynSplits};
use synthvol::metrics::{FeatureMap, FeatureOptions};
use synthvol::model::{FitRequest, SampleOptions, Synthesizer};
use synthvol::syn::{builtin_kind, AnalysisKind, TuneOptions};
use synthvol::table::{ColumnData, Schema, Table};

mod common;
use common::{cat, no_progress, num, Lcg};

/// These tests compare models bit for bit, and OpenBLAS's thread count is process-wide: an
/// engine call running beside another may get its GEMMs on another number of threads, which
/// moves the last bits. One test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Rows of a group ("Male" or "Female"): x shifts with the group, `c` is noise, and `y` is
/// XOR(x > shift, z > 0) with 5% of labels flipped, which no linear model can fit.
fn group(female: bool, n: usize, seed: u64) -> Table {
    let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 31);
    let shift = if female { 1.0 } else { 0.0 };
    let (mut x, mut z, mut c, mut y) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let a = shift + r.normal();
        let b = r.normal();
        x.push(a);
        z.push(b);
        c.push((r.u() < 0.4) as u32);
        let label = (a > shift) != (b > 0.0);
        y.push((label != (r.u() < 0.05)) as u32);
    }
    Table::new(
        Schema {
            columns: vec![
                num("x"),
                num("z"),
                cat("c", &["p", "q"]),
                cat("sex", &["Male", "Female"]),
                cat("y", &["no", "yes"]),
            ],
        },
        vec![
            ColumnData::Numeric(x),
            ColumnData::Numeric(z),
            ColumnData::Categorical(c),
            ColumnData::Categorical(vec![female as u32; n]),
            ColumnData::Categorical(y),
        ],
    )
    .unwrap()
}

fn small_fit(target: &str, steps: usize) -> FitRequest {
    FitRequest {
        target: Some(target.into()),
        layers: Some(vec![64, 64]),
        time_dim: Some(32),
        timesteps: Some(30),
        steps: Some(steps),
        batch_size: Some(256),
        seed: Some(3),
        ..FitRequest::default()
    }
}

fn misclassified(truth: &[u32], pred: &[u32]) -> f64 {
    truth.iter().zip(pred).filter(|(t, p)| t != p).count() as f64 / truth.len() as f64
}

#[test]
fn boosting_analysis_agrees_with_the_crate_and_fits_what_a_line_cannot() {
    let _one = serial();
    let (train, valid) = (group(false, 1500, 1), group(false, 800, 2));
    let (mut boost, metric) = builtin_kind(&train, "y", AnalysisKind::Boosting).unwrap();
    assert_eq!(metric, "misclassification rate");
    let ours = boost(&train, &valid).unwrap();

    // The same design and settings, straight through forust.
    let t = train.schema().index_of("y").unwrap();
    let map = FeatureMap::fit(&[&train], Some(t), FeatureOptions::default()).unwrap();
    let col_major = |tab: &Table| -> (Vec<f64>, usize, usize) {
        let d = map.design(tab);
        (d.t().iter().copied().collect(), d.nrows(), d.ncols())
    };
    let labels = |tab: &Table| -> Vec<u32> {
        match tab.column(t) {
            ColumnData::Categorical(v) => v.clone(),
            _ => unreachable!(),
        }
    };
    let (xd, rows, cols) = col_major(&train);
    let y: Vec<f64> = labels(&train).iter().map(|&c| c as f64).collect();
    let mut b = GradientBooster::default()
        .set_iterations(300)
        .set_max_depth(4)
        .set_learning_rate(0.1)
        .set_l2(1.0)
        .set_seed(0);
    b.fit_unweighted(&Matrix::new(&xd, rows, cols), &y, None)
        .unwrap();
    let (vd, vrows, vcols) = col_major(&valid);
    let pred: Vec<u32> = b
        .predict(&Matrix::new(&vd, vrows, vcols), true)
        .iter()
        .map(|&s| (s > 0.0) as u32)
        .collect();
    let direct = misclassified(&labels(&valid), &pred);
    assert!(
        (ours - direct).abs() <= 1.0 / vrows as f64,
        "ours {ours} vs forust {direct}"
    );
    // XOR: trees find it, a logistic regression stays near chance.
    let (mut linear, _) = builtin_kind(&train, "y", AnalysisKind::Linear).unwrap();
    let lin = linear(&train, &valid).unwrap();
    assert!(ours < 0.15, "boosting error {ours}");
    assert!(lin > 0.35, "logistic error {lin}");

    // A numeric target: RMSE, below the target's spread.
    let (mut reg, metric) = builtin_kind(&train, "x", AnalysisKind::Boosting).unwrap();
    assert_eq!(metric, "RMSE");
    let rmse = reg(&train, &valid).unwrap();
    assert!(rmse.is_finite() && rmse > 0.0 && rmse < 1.0, "RMSE {rmse}");
    assert!(AnalysisKind::parse("forest").is_err());
}

#[test]
fn a_model_conditioned_on_the_group_samples_the_group_asked_for() {
    let _one = serial();
    let pooled = group(false, 1500, 3).concat(&group(true, 300, 4)).unwrap();
    let m = Synthesizer::fit(&pooled, &small_fit("sex", 200), &mut no_progress()).unwrap();
    let opts = SampleOptions {
        label: Some("Female".into()),
        ..SampleOptions::default()
    };
    let rows = m.sample(700, 1, &opts, &mut no_progress()).unwrap();
    let j = rows.schema().index_of("sex").unwrap();
    let ColumnData::Categorical(sex) = rows.column(j) else {
        unreachable!()
    };
    assert_eq!(rows.n_rows(), 700);
    assert!(sex.iter().all(|&s| s == 1), "every row is a woman");
    // The group moves x, as in the training rows (women's x centre on 1, men's on 0).
    let ColumnData::Numeric(x) = rows.column(rows.schema().index_of("x").unwrap()) else {
        unreachable!()
    };
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    assert!(mean > 0.6, "mean x of the sampled women {mean}");

    let bad = SampleOptions {
        label: Some("Other".into()),
        ..SampleOptions::default()
    };
    let e = m.sample(10, 1, &bad, &mut no_progress()).unwrap_err();
    assert!(e.message.contains("'Other' is not a class"), "{e}");
    let both = SampleOptions {
        label: Some("Female".into()),
        labels: Some(vec!["Male".into(); 10]),
        ..SampleOptions::default()
    };
    let e = m.sample(10, 1, &both, &mut no_progress()).unwrap_err();
    assert!(e.message.contains("exclude each other"), "{e}");
}

#[test]
fn early_stopping_scores_held_out_rows_and_retrains_for_the_steps_chosen() {
    let _one = serial();
    let pre = Synthesizer::fit(
        &group(false, 2000, 5),
        &small_fit("y", 300),
        &mut no_progress(),
    )
    .unwrap();
    let women = group(true, 400, 6);
    let request = FitRequest {
        steps: Some(600),
        batch_size: Some(128),
        seed: Some(2),
        holdout: Some(0.1),
        ..FitRequest::default()
    };
    let (a, _) = pre.fine_tune(&women, &request, &mut no_progress()).unwrap();
    let rec = a.record().fine_tuning.last().unwrap();
    let v = rec.validation.as_ref().expect("early stopping ran");
    assert_eq!(v.held_out_rows, 40);
    assert_eq!(v.history[0].0, 0, "the starting weights are scored first");
    assert!(v.history.iter().skip(1).all(|(s, _)| s % 25 == 0));
    let best = v.history.iter().min_by(|x, y| x.1.total_cmp(&y.1)).unwrap();
    assert_eq!(best.0, v.best_step, "the least validation loss is chosen");
    let after = v.history.iter().filter(|(s, _)| *s > v.best_step).count();
    assert!(
        after <= 8,
        "stops after the patience: {after} scores past the best"
    );
    assert!(v.best_step <= 600);
    if v.best_step > 0 {
        // The retraining on every row ran exactly the steps chosen.
        assert_eq!(rec.loss_history.last().unwrap().0, v.best_step);
        assert_eq!(rec.n_rows, 400);
    }
    // Deterministic: the same request gives the same model.
    let (b, _) = pre.fine_tune(&women, &request, &mut no_progress()).unwrap();
    let vb = b.record().fine_tuning[0].validation.as_ref().unwrap();
    assert_eq!(v.history, vb.history);
    assert!(
        a.weights() == b.weights(),
        "the same request, other weights"
    );

    // Off: no record, every step trained.
    let off = FitRequest {
        holdout: Some(0.0),
        steps: Some(100),
        ..request.clone()
    };
    let (c, _) = pre.fine_tune(&women, &off, &mut no_progress()).unwrap();
    let rec = c.record().fine_tuning.last().unwrap();
    assert!(rec.validation.is_none());
    assert_eq!(rec.loss_history.last().unwrap().0, 100);

    // By default a fine-tuning runs an epoch budget: 200 passes over 400 rows in batches of
    // 128 is 625 steps.
    let budget = FitRequest {
        batch_size: Some(128),
        seed: Some(2),
        ..FitRequest::default()
    };
    let (d, _) = pre.fine_tune(&women, &budget, &mut no_progress()).unwrap();
    let rec = d.record().fine_tuning.last().unwrap();
    assert_eq!(rec.options.epochs, Some(200.0));
    assert_eq!(rec.options.optim.steps, 625);
    assert_eq!(rec.loss_history.last().unwrap().0, 625);
    let e = pre
        .fine_tune(
            &women,
            &FitRequest {
                epochs: Some(-1.0),
                ..budget.clone()
            },
            &mut no_progress(),
        )
        .unwrap_err();
    assert!(e.message.contains("'epochs'"), "{e}");

    // A new fit can ask for early stopping too.
    let fit = FitRequest {
        holdout: Some(0.2),
        ..small_fit("y", 200)
    };
    let m = Synthesizer::fit(&women, &fit, &mut no_progress()).unwrap();
    assert_eq!(m.record().validation.as_ref().unwrap().held_out_rows, 80);

    // A table of one row cannot hold one out: an error, not a panic.
    let one = women.select_rows(&[0]);
    let e = Synthesizer::fit(&one, &fit, &mut no_progress()).unwrap_err();
    assert!(e.message.contains("row"), "{e}");

    // Refused: out of range, NaN and infinite, and under DP.
    for bad in [f64::NAN, f64::INFINITY, -0.1] {
        let r = FitRequest {
            holdout: Some(bad),
            ..request.clone()
        };
        let e = pre.fine_tune(&women, &r, &mut no_progress()).unwrap_err();
        assert!(e.message.contains("'holdout'"), "{bad}: {e}");
    }
    for bad in [f64::NAN, f64::INFINITY, 0.0] {
        let r = FitRequest {
            epochs: Some(bad),
            ..budget.clone()
        };
        let e = pre.fine_tune(&women, &r, &mut no_progress()).unwrap_err();
        assert!(e.message.contains("'epochs'"), "{bad}: {e}");
    }
    for (bad, words) in [
        (
            FitRequest {
                holdout: Some(0.7),
                ..request.clone()
            },
            "must be from 0 (off) to 0.5",
        ),
        (
            FitRequest {
                holdout: Some(0.1),
                epsilon: Some(1.0),
                ..request.clone()
            },
            "for fits without DP",
        ),
    ] {
        let e = pre.fine_tune(&women, &bad, &mut no_progress()).unwrap_err();
        assert!(e.message.contains(words), "{e}");
    }
}

#[test]
fn the_transfer_experiment_never_reads_the_test_rows_before_scoring() {
    let _one = serial();
    let pre = Synthesizer::fit(
        &group(false, 2000, 7),
        &small_fit("y", 300),
        &mut no_progress(),
    )
    .unwrap();
    let splits = |test: Table| SynSplits {
        men: group(false, 2000, 7),
        fine_tune: group(true, 300, 8),
        valid: group(true, 300, 9),
        test,
    };
    let test = group(true, 300, 10);
    // The same rows with every label flipped.
    let mut cols: Vec<ColumnData> = (0..test.schema().columns.len())
        .map(|j| test.column(j).clone())
        .collect();
    if let ColumnData::Categorical(y) = &mut cols[4] {
        y.iter_mut().for_each(|v| *v = 1 - *v);
    }
    let poisoned = Table::new(test.schema().clone(), cols).unwrap();
    let request = FitRequest {
        steps: Some(300),
        batch_size: Some(128),
        seed: Some(4),
        holdout: Some(0.1),
        ..FitRequest::default()
    };
    let opts = TuneOptions {
        ratios: vec![1.0, 2.0],
        repeats: 1,
        analysis: AnalysisKind::Boosting,
        ..TuneOptions::default()
    };
    let (m1, r1) = transfer(
        &pre,
        &splits(test),
        "y",
        &request,
        &opts,
        &mut no_progress(),
    )
    .unwrap();
    let (m2, r2) = transfer(
        &pre,
        &splits(poisoned),
        "y",
        &request,
        &opts,
        &mut no_progress(),
    )
    .unwrap();
    // Early stopping, the fine-tuned weights and the tuning are the same ...
    assert!(m1.weights() == m2.weights(), "other fine-tuned weights");
    let steps = |m: &Synthesizer| {
        m.record().fine_tuning[0]
            .validation
            .as_ref()
            .map(|v| v.best_step)
    };
    assert!(steps(&m1).is_some());
    assert_eq!(steps(&m1), steps(&m2));
    let curve = |r: &synthvol::demo::TransferReport| -> Vec<f64> {
        r.tune.points.iter().map(|p| p.error).collect()
    };
    assert_eq!(curve(&r1), curve(&r2));
    assert_eq!(r1.tune.chosen_m, r2.tune.chosen_m);
    assert_eq!(r1.tune.analysis.as_deref(), Some("boosting"));
    // ... and only the scores on the test rows differ: flipped labels turn error e into 1 − e.
    assert!(
        (r1.raw + r2.raw - 1.0).abs() < 1e-9,
        "{} {}",
        r1.raw,
        r2.raw
    );
    assert!(r1.synthetic < 0.5 && r2.synthetic > 0.5);
}
