//! Private fine-tuning on the demo's Syn experiment: the model pre-trained on the 21,790 men of
//! Adult is fine-tuned under DP on 1,350 women, and its synthetic rows are compared with 1,350
//! women of the test file (Fréchet distance, exact W1 and W2), beside the pre-trained model and
//! the raw fine-tuning rows; logistic regression on `income` trained on the synthetic rows and
//! on the raw rows is scored on the test women. One line per noise seed, then the mean and the
//! spread.
//!
//!   cargo run --release --example dp_fine_tune -- DIR [SEEDS]
//!
//! DIR caches the pre-trained model (`pre_s0_default.svmodel`, as `examples/synboost.rs`
//! writes it); SEEDS is the number of noise seeds (default 5). Environment: FT (a fit-request
//! JSON whose keys replace those of the demo's private fine-tuning, e.g.
//! '{"trainable":"all"}' or '{"epsilon":4}').

use std::path::Path;
use std::time::Instant;

use synthvol::datasets;
use synthvol::demo::{syn_splits, DemoOptions, DemoPlan};
use synthvol::metrics::distances;
use synthvol::model::{FitRequest, SampleOptions, Synthesizer};
use synthvol::syn::{builtin_kind, AnalysisKind};

fn quiet() -> impl FnMut(&synthvol::progress::Progress) -> bool {
    |_| true
}

fn merged(base: &FitRequest, over: Option<&str>) -> synthvol::Result<FitRequest> {
    let Some(j) = over else {
        return Ok(base.clone());
    };
    let bad = |e: serde_json::Error| synthvol::Error::invalid(format!("FT: {e}"));
    let mut v: serde_json::Value = serde_json::from_str(&base.to_json()).map_err(bad)?;
    let over: serde_json::Value = serde_json::from_str(j).map_err(bad)?;
    for (k, x) in over.as_object().into_iter().flatten() {
        v[k] = x.clone();
    }
    FitRequest::from_json(&v.to_string())
}

fn main() -> synthvol::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map_or("synboost", String::as_str)).to_path_buf();
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    std::fs::create_dir_all(&dir).map_err(|e| synthvol::Error::io(dir.display(), e))?;
    let plan = DemoPlan::new(&DemoOptions::default())?;
    let n = plan.syn.sample_rows;
    let s = syn_splits(&datasets::adult_train()?, &datasets::adult_test()?, n, 0)?;
    let cache = dir.join("pre_s0_default.svmodel");
    let pre = if cache.exists() {
        Synthesizer::load(&cache)?
    } else {
        let m = Synthesizer::fit(&s.men, &plan.syn.pretrain, &mut quiet())?;
        m.save(&cache)?;
        m
    };
    let ft = std::env::var("FT").ok();
    let req = merged(&plan.syn.fine_tune_private, ft.as_deref())?;
    let (mut logistic, metric) = builtin_kind(&s.fine_tune, "income", AnalysisKind::Linear)?;
    let raw_err = logistic(&s.fine_tune, &s.test)?;
    let d_pre = distances(
        &s.test,
        &pre.sample(n, 0, &SampleOptions::default(), &mut quiet())?,
        n,
        0,
    )?;
    let d_raw = distances(&s.test, &s.fine_tune, n, 0)?;
    println!(
        "request {}; pre-trained Fréchet {:.3} W1 {:.3} W2 {:.3}; raw rows Fréchet {:.3}; logistic {metric} on raw rows {raw_err:.4}",
        req.to_json(),
        d_pre.frechet,
        d_pre.w1,
        d_pre.w2,
        d_raw.frechet
    );
    let mut rows = Vec::new();
    for seed in 0..seeds {
        let r = FitRequest {
            noise_seed: req.epsilon.map(|_| 1000 + seed),
            seed: Some(seed),
            ..req.clone()
        };
        let start = Instant::now();
        let (m, _) = pre.fine_tune(&s.fine_tune, &r, &mut quiet())?;
        let secs = start.elapsed().as_secs_f64();
        if let Some(c) = m
            .record()
            .fine_tuning
            .last()
            .and_then(|f| f.calibration.as_ref())
        {
            println!(
                "seed {seed}: calibration {} rounds, largest level error {:.4} → {:.4}",
                c.rounds, c.max_error_before, c.max_error_after
            );
        }
        let syn = m.sample(n, seed ^ 0x7E57, &SampleOptions::default(), &mut quiet())?;
        let d = distances(&s.test, &syn, n, seed)?;
        let err = logistic(&syn, &s.test)?;
        let eps = m
            .record()
            .fine_tuning
            .last()
            .and_then(|f| f.privacy.as_ref())
            .map_or(f64::NAN, |p| p.epsilon);
        println!(
            "seed {seed}: ε {eps:.4}, {secs:.1} s; Fréchet {:.3} W1 {:.3} W2 {:.3}; logistic {metric} {err:.4}",
            d.frechet, d.w1, d.w2
        );
        rows.push([d.frechet, d.w1, d.w2, err]);
    }
    let stat = |j: usize| {
        let v: Vec<f64> = rows.iter().map(|r| r[j]).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        format!("{mean:.3} ({lo:.3}-{hi:.3})")
    };
    println!(
        "mean (min-max) over {seeds} seeds: Fréchet {}, W1 {}, W2 {}, logistic {metric} {} (raw rows {raw_err:.4})",
        stat(0),
        stat(1),
        stat(2),
        stat(3)
    );
    Ok(())
}
