//! The Syn experiment behind issue-style SynBoost figures (Shen, Liu & Shen 2023): the demo's
//! splits of Adult (pre-train on the 21,790 men, fine-tune on 1,350 women, 1,350 other women
//! for validation, 1,350 women of the test file for test), one route of knowledge transfer, and
//! the built-in analyses' (boosting, then logistic regression) test error at the volume chosen
//! on validation, beside the raw, related-only and pooled rows. It writes the splits and the synthetic rows as CSV, so
//! that an outside analysis (`scripts/synboost-catboost`) scores the same rows.
//!
//!   cargo run --release --example synboost -- DIR [SEED] [ROUTE]
//!
//! ROUTE: `fine-tune` (pre-train on the men, fine-tune on the women; the default) or
//! `condition` (one model on the men and the fine-tuning women, conditioned on `sex`, sampled
//! for women). The splits are the demo's for seed 0 whatever SEED, which seeds the pipeline
//! (pre-training, fine-tuning, sampling). Environment: FT (a fit-request JSON merged into the
//! fine-tuning's, e.g. '{"steps":300}'), PRE_STEPS (pre-training steps, default the engine's),
//! TAG (names the output files), RATIOS (default 1,2,5,10,20,30).

use std::path::Path;
use std::time::Instant;

use synthvol::datasets;
use synthvol::demo::{syn_splits, DemoOptions, DemoPlan};
use synthvol::model::{FitRequest, SampleOptions, Synthesizer};
use synthvol::syn::{builtin_kind, AnalysisKind};
use synthvol::table::{write_csv, Table};

fn quiet() -> impl FnMut(&synthvol::progress::Progress) -> bool {
    |_| true
}

fn main() -> synthvol::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map_or("synboost", String::as_str)).to_path_buf();
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let route = args.get(3).cloned().unwrap_or_else(|| "fine-tune".into());
    let tag = std::env::var("TAG").unwrap_or_else(|_| route.clone());
    let ratios: Vec<f64> = std::env::var("RATIOS")
        .unwrap_or_else(|_| "1,2,5,10,20,30".into())
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect();
    std::fs::create_dir_all(&dir).map_err(|e| synthvol::Error::io(dir.display(), e))?;
    let plan = DemoPlan::new(&DemoOptions::default())?;
    let n = plan.syn.sample_rows;
    let s = syn_splits(&datasets::adult_train()?, &datasets::adult_test()?, n, 0)?;
    for (name, t) in [
        ("men", &s.men),
        ("fine_tune", &s.fine_tune),
        ("valid", &s.valid),
        ("test", &s.test),
    ] {
        let p = dir.join(format!("{name}.csv"));
        if !p.exists() {
            write_csv(t, &p)?;
        }
    }
    let pre_steps: Option<usize> = std::env::var("PRE_STEPS").ok().and_then(|v| v.parse().ok());
    let start = Instant::now();
    let (model, label) = if route == "condition" {
        let pooled = s.men.concat(&s.fine_tune)?;
        let req = FitRequest {
            target: Some("sex".into()),
            seed: Some(seed),
            steps: pre_steps,
            ..plan.syn.pretrain.clone()
        };
        (
            Synthesizer::fit(&pooled, &req, &mut quiet())?,
            Some("Female".to_string()),
        )
    } else {
        let cache = dir.join(format!(
            "pre_s{seed}_{}.svmodel",
            pre_steps.map_or("default".into(), |s| s.to_string())
        ));
        let pre = if cache.exists() {
            Synthesizer::load(&cache)?
        } else {
            let req = FitRequest {
                seed: Some(seed),
                steps: pre_steps,
                ..plan.syn.pretrain.clone()
            };
            let m = Synthesizer::fit(&s.men, &req, &mut quiet())?;
            m.save(&cache)?;
            m
        };
        let base = FitRequest {
            seed: Some(seed),
            ..plan.syn.fine_tune.clone()
        };
        // FT's keys replace the demo's.
        let req = match std::env::var("FT") {
            Ok(j) => {
                let mut v: serde_json::Value = serde_json::from_str(&base.to_json())
                    .map_err(|e| synthvol::Error::invalid(e.to_string()))?;
                let over: serde_json::Value = serde_json::from_str(&j)
                    .map_err(|e| synthvol::Error::invalid(format!("FT: {e}")))?;
                for (k, x) in over.as_object().into_iter().flatten() {
                    v[k] = x.clone();
                }
                FitRequest::from_json(&v.to_string())?
            }
            Err(_) => base,
        };
        (pre.fine_tune(&s.fine_tune, &req, &mut quiet())?.0, None)
    };
    let fit_s = start.elapsed().as_secs_f64();
    if let Some(v) = model
        .record()
        .fine_tuning
        .last()
        .and_then(|r| r.validation.as_ref())
    {
        println!(
            "{tag} seed {seed}: early stopping on {} held-out rows chose {} steps; validation loss {}",
            v.held_out_rows,
            v.best_step,
            v.history
                .iter()
                .map(|(s, l)| format!("{s}:{l:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let m_max = (ratios.iter().copied().fold(0.0, f64::max) * n as f64).round() as usize;
    let opts = SampleOptions {
        label,
        ..SampleOptions::default()
    };
    let start = Instant::now();
    let syn = model.sample(m_max, seed ^ 0x7E57, &opts, &mut quiet())?;
    let sample_s = start.elapsed().as_secs_f64();
    write_csv(&syn, &dir.join(format!("syn_{tag}_s{seed}.csv")))?;

    // Each built-in analysis: raw, related-only, pooled, and the volume curve.
    let prefix = |m: usize| -> Table { syn.select_rows(&(0..m).collect::<Vec<_>>()) };
    println!("{tag} seed {seed}: fit {fit_s:.0} s, sample {m_max} rows {sample_s:.0} s");
    for kind in [AnalysisKind::Boosting, AnalysisKind::Linear] {
        let (mut analyse, _) = builtin_kind(&s.fine_tune, "income", kind)?;
        let raw = analyse(&s.fine_tune, &s.test)?;
        let men = analyse(&s.men, &s.test)?;
        let pooled = analyse(&s.men.concat(&s.fine_tune)?, &s.test)?;
        let mut curve = Vec::new();
        for &r in &ratios {
            let m = (r * n as f64).round() as usize;
            curve.push((r, analyse(&prefix(m), &s.valid)?));
        }
        let raw_valid = analyse(&s.fine_tune, &s.valid)?;
        let best = curve
            .iter()
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("ratios");
        let at_m = analyse(&prefix((best.0 * n as f64).round() as usize), &s.test)?;
        println!(
            "{tag} seed {seed}: {} test error: raw {raw:.4}, men {men:.4}, pooled {pooled:.4}, synthetic at rho={} {at_m:.4}; validation raw {raw_valid:.4}, curve {}",
            kind.name(),
            best.0,
            curve
                .iter()
                .map(|(r, e)| format!("{r}:{e:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(())
}
