//! Knowledge transfer: a model pre-trained on one population and fine-tuned on a small sample of
//! another moves towards the second; levels the pre-training lacked extend the model without DP
//! and must have been declared public under DP; schema mismatches are errors that name them.

use synthvol::internals::nn::Denoiser;
use synthvol::metrics::{self, EvaluateOptions};
use synthvol::model::{
    DpOptions, FineTuneOptions, FineTunePlan, FitOptions, FitRequest, SampleOptions, Synthesizer,
    Trainable, PRIVATE_CALIBRATION_SHARE, PRIVATE_TRAINABLE,
};
use synthvol::privacy::accountant::{default_orders, epsilon};
use synthvol::table::{
    ColumnData, ColumnKind, ColumnSpec, PublicColumnKind, PublicSchema, Schema, Table,
};

mod common;
use common::{cat, num, Lcg};

/// Population "m" or "f": x and z shift with the population, `sex` is the population, `job`
/// has a level ("nurse") only population f has, `y` depends on x.
fn population(female: bool, n: usize, seed: u64) -> Table {
    let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 77);
    let (mut x, mut z, mut sex, mut job, mut y) = (vec![], vec![], vec![], vec![], vec![]);
    let sexes = ["Male", "Female"];
    let jobs: &[&str] = if female {
        &["clerk", "nurse", "driver"]
    } else {
        &["clerk", "driver"]
    };
    for _ in 0..n {
        let a = if female {
            2.0 + 0.5 * r.normal()
        } else {
            r.normal()
        };
        x.push(a);
        z.push(a + 0.5 * r.normal() + if female { 1.0 } else { 0.0 });
        sex.push(female as u32);
        let u = r.u();
        job.push(if female {
            if u < 0.5 {
                1
            } else if u < 0.8 {
                0
            } else {
                2
            }
        } else {
            (u < 0.3) as u32
        });
        y.push((a + 0.3 * r.normal() > if female { 2.0 } else { 0.0 }) as u32);
    }
    // Each table lists only the levels it uses, as a CSV read would.
    let sex_levels: &[&str] = if female { &sexes[1..] } else { &sexes[..1] };
    let sex: Vec<u32> = sex.iter().map(|_| 0).collect();
    Table::new(
        Schema {
            columns: vec![
                num("x"),
                num("z"),
                cat("sex", sex_levels),
                cat("job", jobs),
                cat("y", &["no", "yes"]),
            ],
        },
        vec![
            ColumnData::Numeric(x),
            ColumnData::Numeric(z),
            ColumnData::Categorical(sex),
            ColumnData::Categorical(job),
            ColumnData::Categorical(y),
        ],
    )
    .unwrap()
}

fn options() -> FitOptions {
    let mut o = FitOptions {
        target: Some("y".into()),
        layers: vec![64, 64],
        dim_t: 32,
        timesteps: 30,
        seed: 3,
        ..FitOptions::default()
    };
    o.optim.steps = 600;
    o.optim.batch_size = 256;
    o
}

fn tune_options(steps: usize) -> FineTuneOptions {
    let mut o = FineTuneOptions {
        seed: 5,
        ..FineTuneOptions::default()
    };
    o.optim.steps = steps;
    o.optim.batch_size = 128;
    o
}

/// The pre-training data, with the fine-tuning population's levels declared public.
fn pretrain(dp_ready: bool) -> Synthesizer {
    let men = population(false, 4000, 1);
    if !dp_ready {
        return Synthesizer::fit(&men, &FitRequest::from_options(&options()), &mut |_| true)
            .unwrap();
    }
    let mut public = PublicSchema::from_table(&men);
    for c in &mut public.columns {
        if let PublicColumnKind::Categorical { levels } = &mut c.kind {
            match c.name.as_str() {
                "sex" => levels.push("Female".into()),
                "job" => levels.push("nurse".into()),
                _ => {}
            }
        }
    }
    let men = public.apply(&men).unwrap();
    Synthesizer::fit(&men, &FitRequest::from_options(&options()), &mut |_| true).unwrap()
}

fn frechet_to(model: &Synthesizer, reference: &Table) -> f64 {
    let syn = model
        .sample(1500, 9, &SampleOptions::default(), &mut |_| true)
        .unwrap();
    let opts = EvaluateOptions {
        wasserstein_rows: 0,
        privacy_rows: 0,
        propensity_rows: 0,
        ..EvaluateOptions::default()
    };
    // The reference is the "real" side: its encoders, its levels.
    let syn = syn.select_rows(&(0..syn.n_rows()).collect::<Vec<_>>());
    metrics::evaluate(reference, &syn, None, &opts, &mut |_| true)
        .map(|r| r.fidelity.frechet_distance.unwrap())
        .unwrap_or_else(|e| panic!("evaluate: {e}"))
}

#[test]
fn fine_tuning_moves_the_model_to_the_new_population() {
    let pre = pretrain(true);
    let women = population(true, 400, 2);
    let test = population(true, 1500, 3);
    let (tuned, notices) = pre
        .fine_tune_plan(
            &women,
            &FineTunePlan {
                options: tune_options(300).clone(),
                dp: None,
            },
            &mut |_| true,
        )
        .unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    let test_all = test.conform_to(tuned.schema()).unwrap();
    let before = frechet_to(&pre, &test_all);
    let after = frechet_to(&tuned, &test_all);
    eprintln!(
        "Fréchet distance to the new population: pre-trained {before:.3}, fine-tuned {after:.3}"
    );
    assert!(
        after < 0.5 * before,
        "pre-trained {before}, fine-tuned {after}"
    );
    // The record grows; the pre-trained model is untouched and the new one round-trips.
    assert_eq!(pre.record().fine_tuning.len(), 0);
    let r = &tuned.record().fine_tuning[0];
    assert_eq!(r.n_rows, 400);
    assert!(r.privacy.is_none() && !r.loss_history.is_empty());
    let back = Synthesizer::from_bytes(&tuned.to_bytes().unwrap()).unwrap();
    assert_eq!(back.record().fine_tuning.len(), 1);
    assert_eq!(back.weights(), tuned.weights());
}

#[test]
fn unseen_levels_extend_the_model_without_dp() {
    let pre = pretrain(false);
    let women = population(true, 400, 4);
    let (tuned, notices) = pre
        .fine_tune_plan(
            &women,
            &FineTunePlan {
                options: tune_options(1000).clone(),
                dp: None,
            },
            &mut |_| true,
        )
        .unwrap();
    let msg = notices.join(" ");
    assert!(
        msg.contains("'sex' = 'Female'") && msg.contains("'job' = 'nurse'"),
        "{msg}"
    );
    assert_eq!(
        tuned.record().fine_tuning[0].added_levels,
        vec![
            ("sex".to_string(), "Female".to_string()),
            ("job".to_string(), "nurse".to_string())
        ]
    );
    // The new levels are generated at about their share in the fine-tuning data.
    let syn = tuned
        .sample(2000, 1, &SampleOptions::default(), &mut |_| true)
        .unwrap();
    let share = |col: &str, level: &str| {
        let j = syn.schema().index_of(col).unwrap();
        let ColumnKind::Categorical { levels } = &syn.schema().columns[j].kind else {
            unreachable!()
        };
        let k = levels.iter().position(|l| l == level).unwrap() as u32;
        let ColumnData::Categorical(v) = syn.column(j) else {
            unreachable!()
        };
        v.iter().filter(|&&c| c == k).count() as f64 / v.len() as f64
    };
    let (female, nurse) = (share("sex", "Female"), share("job", "nurse"));
    assert!(female > 0.8, "Female share {female}");
    assert!((nurse - 0.5).abs() < 0.15, "nurse share {nurse}");
    // Old codes keep their meaning: the pre-trained model still samples the old levels.
    let old = pre
        .sample(500, 1, &SampleOptions::default(), &mut |_| true)
        .unwrap();
    assert_eq!(old.schema(), pre.schema());
}

#[test]
fn dp_fine_tuning_needs_declared_levels_and_records_its_spend() {
    let women = population(true, 400, 6);
    let dp = DpOptions {
        epsilon: 2.0,
        noise_seed: Some(1),
        ..DpOptions::default()
    };
    let undeclared = pretrain(false);
    let e = undeclared
        .fine_tune_plan(
            &women,
            &FineTunePlan {
                options: tune_options(50).clone(),
                dp: Some(dp.clone()),
            },
            &mut |_| true,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'sex' = 'Female'") && e.contains("schema"),
        "{e}"
    );

    let declared = pretrain(true);
    assert!(declared.record().privacy.is_none());
    let (tuned, _) = declared
        .fine_tune_plan(
            &women,
            &FineTunePlan {
                options: tune_options(50).clone(),
                dp: Some(dp.clone()),
            },
            &mut |_| true,
        )
        .unwrap();
    // Pre-training declared public costs nothing: the only spend is the fine-tuning's.
    assert!(tuned.record().privacy.is_none());
    let p = tuned.record().fine_tuning[0].privacy.as_ref().unwrap();
    assert!(p.epsilon <= 2.0 && p.epsilon > 1.5, "ε {}", p.epsilon);
    assert_eq!(p.rows, 400);
    assert_eq!(p.phases.len(), 2, "class counts and DP-SGD");
    assert!(p.preprocessing_epsilon > 0.0 && p.preprocessing_epsilon < 0.5);
    assert!(tuned.record().fine_tuning[0].loss_history.is_empty());
    // Class frequencies were released with noise: no count is exactly the real one.
    let counts = &tuned.encoder().label.as_ref().unwrap().counts;
    assert!(counts.iter().all(|c| c.fract() != 0.0), "{counts:?}");
}

#[test]
fn schema_mismatches_are_named() {
    let pre = pretrain(false);
    let women = population(true, 100, 7);
    let drop = |t: &Table, name: &str| {
        let keep: Vec<usize> = (0..t.n_cols())
            .filter(|&j| t.schema().columns[j].name != name)
            .collect();
        Table::new(
            Schema {
                columns: keep
                    .iter()
                    .map(|&j| t.schema().columns[j].clone())
                    .collect(),
            },
            keep.iter().map(|&j| t.column(j).clone()).collect(),
        )
        .unwrap()
    };
    let run = |t: &Table| {
        pre.fine_tune_plan(
            t,
            &FineTunePlan {
                options: tune_options(5).clone(),
                dp: None,
            },
            &mut |_| true,
        )
        .unwrap_err()
        .to_string()
    };
    let e = run(&drop(&women, "z"));
    assert!(e.contains("'z'") && e.contains("missing"), "{e}");
    let mut extra = women.schema().clone();
    extra.columns.push(ColumnSpec {
        name: "ward".into(),
        kind: ColumnKind::Numeric { integer: true },
    });
    let mut cols = women.columns().to_vec();
    cols.push(ColumnData::Numeric(vec![1.0; women.n_rows()]));
    let e = run(&Table::new(extra, cols).unwrap());
    assert!(
        e.contains("'ward'") && e.contains("not in the pre-trained model"),
        "{e}"
    );
    // A column of another kind.
    let mut as_num = women.schema().clone();
    as_num.columns[3].kind = ColumnKind::Numeric { integer: true };
    let mut cols = women.columns().to_vec();
    cols[3] = ColumnData::Numeric(vec![1.0; women.n_rows()]);
    let e = run(&Table::new(as_num, cols).unwrap());
    assert!(e.contains("'job'"), "{e}");
    // Cancelling returns an error and leaves the model usable.
    let e = pre
        .fine_tune_plan(
            &women,
            &FineTunePlan {
                options: tune_options(50).clone(),
                dp: None,
            },
            &mut |_| false,
        )
        .unwrap_err();
    assert_eq!(e.kind, synthvol::ErrorKind::Cancelled);
    assert!(pre
        .sample(10, 1, &SampleOptions::default(), &mut |_| true)
        .is_ok());
}

/// The share of rows of `t` whose column `col` has `level`.
fn level_share(t: &Table, col: &str, level: &str) -> f64 {
    let j = t.schema().index_of(col).unwrap();
    let ColumnKind::Categorical { levels } = &t.schema().columns[j].kind else {
        unreachable!()
    };
    let k = levels.iter().position(|l| l == level).unwrap() as u32;
    let ColumnData::Categorical(v) = t.column(j) else {
        unreachable!()
    };
    v.iter().filter(|&&c| c == k).count() as f64 / v.len() as f64
}

/// Whether the weights outside `set`'s ranges are bit-identical, and some inside differ.
fn only_set_changed(pre: &Synthesizer, tuned: &Synthesizer, set: Trainable) -> (bool, bool) {
    let net = Denoiser::new(tuned.denoiser_config().clone());
    let ranges = net.trained_ranges(set);
    let (a, b) = (pre.weights(), tuned.weights());
    assert_eq!(a.len(), b.len());
    let inside = |i: usize| ranges.iter().any(|r| r.contains(&i));
    let frozen_same = (0..a.len())
        .filter(|&i| !inside(i))
        .all(|i| a[i].to_bits() == b[i].to_bits());
    let trained_moved = (0..a.len()).any(|i| inside(i) && a[i] != b[i]);
    (frozen_same, trained_moved)
}

#[test]
fn private_fine_tuning_trains_its_set_calibrates_and_accounts_everything() {
    let pre = pretrain(true);
    let women = population(true, 400, 8);
    let req = FitRequest {
        epsilon: Some(2.0),
        noise_seed: Some(3),
        steps: Some(40),
        batch_size: Some(128),
        seed: Some(5),
        ..FitRequest::default()
    };
    // The defaults under DP: a partial set, calibration, the larger counts share.
    let plan = req.check_fine_tune(&pre).unwrap();
    assert_eq!(plan.options.optim.trainable, PRIVATE_TRAINABLE);
    assert!(plan.options.calibrate);
    let dp = plan.dp.as_ref().unwrap();
    assert_eq!(dp.preprocessing_share, PRIVATE_CALIBRATION_SHARE);

    let (tuned, _) = pre.fine_tune(&women, &req, &mut |_| true).unwrap();
    let (frozen_same, moved) = only_set_changed(&pre, &tuned, PRIVATE_TRAINABLE);
    assert!(frozen_same, "a frozen weight changed");
    assert!(moved, "no trained weight changed");
    let rec = &tuned.record().fine_tuning[0];
    let (k, total) = rec.trained_parameters.unwrap();
    assert!(k * 10 < total, "{k} of {total} trained");

    // The accountant: the counts release (class counts and every block's level counts, one
    // Gaussian mechanism) and DP-SGD compose to the recorded ε, within the budget.
    let p = rec.privacy.as_ref().unwrap();
    assert_eq!(p.phases.len(), 2);
    let (pre_phase, train) = (p.phases[0], p.phases[1]);
    assert_eq!((pre_phase.q, pre_phase.steps), (1.0, 1));
    assert_eq!(train.steps, 40);
    let blocks = tuned.encoder().blocks.len();
    assert_eq!(p.preprocessing.histograms, 1 + blocks);
    assert!((p.preprocessing.sensitivity - ((1 + blocks) as f64).sqrt()).abs() < 1e-12);
    let orders = default_orders();
    let (eps, _) = epsilon(&p.phases, p.delta, &orders);
    assert_eq!(eps, p.epsilon);
    assert!(p.epsilon <= 2.0 && p.epsilon > 1.99, "ε {}", p.epsilon);
    let (pre_eps, _) = epsilon(&p.phases[..1], p.delta, &orders);
    assert!(
        (pre_eps - p.preprocessing_epsilon).abs() < 1e-12 && pre_eps < 2.0 * 0.75,
        "counts' ε {pre_eps}"
    );

    // Calibration gave the new population's level mass that 40 noisy steps alone do not.
    let cal = rec.calibration.as_ref().unwrap();
    assert!(
        cal.max_error_after < 0.1 && cal.max_error_after < cal.max_error_before,
        "{cal:?}"
    );
    let syn = tuned
        .sample(3000, 2, &SampleOptions::default(), &mut |_| true)
        .unwrap();
    assert!(level_share(&syn, "sex", "Female") > 0.9);
    assert!((level_share(&syn, "job", "nurse") - 0.5).abs() < 0.1);

    // Another set, without calibration: again only that set moves.
    let head = FitRequest {
        trainable: Some(Trainable::Head),
        calibrate: Some(false),
        ..req.clone()
    };
    let (tuned, _) = pre.fine_tune(&women, &head, &mut |_| true).unwrap();
    assert_eq!(
        only_set_changed(&pre, &tuned, Trainable::Head),
        (true, true)
    );
    let rec = &tuned.record().fine_tuning[0];
    assert!(rec.calibration.is_none());
    assert_eq!(rec.privacy.as_ref().unwrap().preprocessing.histograms, 1);
}

#[test]
fn calibration_without_dp_matches_the_rows_level_frequencies() {
    let pre = pretrain(true);
    let women = population(true, 400, 9);
    // Five steps teach the pre-trained model little; calibration does the rest.
    let req = FitRequest {
        steps: Some(5),
        calibrate: Some(true),
        seed: Some(1),
        ..FitRequest::default()
    };
    let (tuned, _) = pre.fine_tune(&women, &req, &mut |_| true).unwrap();
    eprintln!("{:?}", tuned.record().fine_tuning[0].calibration);
    let syn = tuned
        .sample(4000, 4, &SampleOptions::default(), &mut |_| true)
        .unwrap();
    for (col, level) in [
        ("sex", "Female"),
        ("job", "nurse"),
        ("job", "clerk"),
        ("job", "driver"),
    ] {
        let (got, want) = (
            level_share(&syn, col, level),
            level_share(&women, col, level),
        );
        assert!(
            (got - want).abs() < 0.05,
            "{col} = {level}: {got} vs {want}"
        );
    }
    let (plain, _) = pre
        .fine_tune(
            &women,
            &FitRequest {
                calibrate: None,
                ..req
            },
            &mut |_| true,
        )
        .unwrap();
    let syn = plain
        .sample(4000, 4, &SampleOptions::default(), &mut |_| true)
        .unwrap();
    assert!(
        (level_share(&syn, "job", "nurse") - level_share(&women, "job", "nurse")).abs() > 0.1,
        "without calibration five steps should not have learned the new level"
    );
}

#[test]
fn trainable_and_calibrate_are_fine_tuning_options() {
    for json in [r#"{"trainable": "head"}"#, r#"{"calibrate": true}"#] {
        let e = FitRequest::from_json(json).unwrap().check().unwrap_err();
        assert!(e.message.contains("fine-tuning"), "{json}: {}", e.message);
    }
    let e = FitRequest::from_json(r#"{"trainable": "lora"}"#).unwrap_err();
    assert!(e.message.contains("all, head, biases"), "{}", e.message);
    // "all" is what a new fit does anyway.
    FitRequest::from_json(r#"{"trainable": "all"}"#)
        .unwrap()
        .check()
        .unwrap();
}
