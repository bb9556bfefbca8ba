//! Syn-Test on the simulation of Shen, Liu & Shen (2023): X ~ U(0,1)^8,
//! y = 8 + X1² + X2·X3 + cos X4 + exp(X5·X6) + 0.1·X7 + 0.2ε, X8 irrelevant. A generator is
//! pre-trained once on 10,000 rows; each replication draws 200 inference rows, fine-tunes the
//! twins on its halves and tests X8 (null: the rejection rate estimates the Type-I error) and
//! X1 (alternative: the rejection rate estimates the power); the prediction models f and g
//! are fitted on 1,000 real training rows of the replication (the black-box test's training
//! split), or with SYN_SYNTHETIC_MODELS=1 on 10,000 synthetic rows of twin 1.
//!
//!   cargo run --release --example syn_test_simulation -- [REPLICATIONS] [MC] [OUT.json]
//!
//! Defaults: 100 replications, 100 Monte Carlo chunks per ratio, SynTestOptions' ratios. Environment:
//! SYN_RATIOS=0.1,0.5,1 (another grid), SYN_FT_STEPS=N (the twins' fine-tuning steps, 300).

use std::time::Instant;

use synthvol::model::{FitOptions, FitRequest, Synthesizer};
use synthvol::syn::{syn_test, twins, SynTestOptions, SynTestResult};
use synthvol::table::{ColumnData, ColumnKind, ColumnSpec, Schema, Table};

struct Lcg(u64);
impl Lcg {
    fn u(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.u().ln()).sqrt() * (std::f64::consts::TAU * self.u()).cos()
    }
}

fn simulate(n: usize, seed: u64) -> Table {
    let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    let mut cols: Vec<Vec<f64>> = (0..9).map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        let x: Vec<f64> = (0..8).map(|_| r.u()).collect();
        let y = 8.0
            + x[0] * x[0]
            + x[1] * x[2]
            + x[3].cos()
            + (x[4] * x[5]).exp()
            + 0.1 * x[6]
            + 0.2 * r.normal();
        for (j, v) in x.iter().enumerate() {
            cols[j].push(*v);
        }
        cols[8].push(y);
    }
    let names: Vec<String> = (1..=8)
        .map(|i| format!("X{i}"))
        .chain(["y".into()])
        .collect();
    Table::new(
        Schema {
            columns: names
                .iter()
                .map(|n| ColumnSpec {
                    name: n.clone(),
                    kind: ColumnKind::Numeric { integer: false },
                })
                .collect(),
        },
        cols.into_iter().map(ColumnData::Numeric).collect(),
    )
    .expect("valid table")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let mc: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let out = args.get(3).cloned();
    let start = Instant::now();
    let mut fit = FitOptions {
        layers: vec![128, 128],
        dim_t: 64,
        timesteps: 50,
        seed: 1,
        ..FitOptions::default()
    };
    fit.optim.steps = 3000;
    fit.optim.batch_size = 512;
    let pre = Synthesizer::fit(
        &simulate(10_000, 1),
        &FitRequest::from_options(&fit),
        &mut |_| true,
    )
    .expect("pre-train");
    eprintln!(
        "pre-trained on 10,000 rows in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    let ft_steps: usize = std::env::var("SYN_FT_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let ft = FitRequest {
        steps: Some(ft_steps),
        batch_size: Some(100),
        ..FitRequest::default()
    };
    let mut results: Vec<(SynTestResult, SynTestResult)> = Vec::new();
    for rep in 0..reps {
        let data = simulate(200, 1000 + rep as u64);
        let training = simulate(1000, 100_000 + rep as u64);
        let mut tw = twins(&pre, &data, &ft, rep as u64, &mut |_| true).expect("twins");
        let mut test = |feature: &str| {
            let mut o = SynTestOptions::new("y", &[feature]);
            if let Ok(r) = std::env::var("SYN_RATIOS") {
                o.ratios = r.split(',').filter_map(|x| x.parse().ok()).collect();
            }
            o.mc = mc;
            o.model_rows = Some(10_000);
            if std::env::var("SYN_SYNTHETIC_MODELS").is_err() {
                o.training = Some(training.clone());
            }
            syn_test(&mut tw, &o, &mut |_| true).expect("syn-test")
        };
        let null = test("X8");
        let alt = test("X1");
        eprintln!(
            "replication {:>3}: X8 chosen ρ {:?} reject {}; X1 chosen ρ {:?} reject {} ({:.0} s)",
            rep + 1,
            null.chosen_ratio,
            null.reject,
            alt.chosen_ratio,
            alt.reject,
            start.elapsed().as_secs_f64()
        );
        results.push((null, alt));
    }
    let r = results.len() as f64;
    let ratios: Vec<f64> = results[0].0.points.iter().map(|p| p.ratio).collect();
    println!(
        "Syn-Test simulation: {reps} replications, {mc} Monte Carlo chunks per ratio, n = 200"
    );
    println!("estimated Type-I error (mean over replications) and twins' rejection rate, by ρ:");
    println!(
        "  {:>4} {:>6} {:>12} {:>12} {:>14}",
        "ρ", "m", "Type-I X8", "Type-I X1", "power X1"
    );
    for (i, rho) in ratios.iter().enumerate() {
        let t8 = results.iter().map(|x| x.0.points[i].type_i).sum::<f64>() / r;
        let t1 = results.iter().map(|x| x.1.points[i].type_i).sum::<f64>() / r;
        let p1 = results
            .iter()
            .map(|x| x.1.points[i].rejection_rate)
            .sum::<f64>()
            / r;
        println!(
            "  {rho:>4} {:>6} {t8:>12.3} {t1:>12.3} {p1:>14.3}",
            results[0].0.points[i].m
        );
    }
    let mean_rho = |f: &dyn Fn(&(SynTestResult, SynTestResult)) -> Option<f64>| {
        let v: Vec<f64> = results.iter().filter_map(f).collect();
        (v.iter().sum::<f64>() / v.len().max(1) as f64, v.len())
    };
    let (c8, k8) = mean_rho(&|x| x.0.chosen_ratio);
    let (c1, k1) = mean_rho(&|x| x.1.chosen_ratio);
    let rej8 = results.iter().filter(|x| x.0.reject).count() as f64 / r;
    let rej1 = results.iter().filter(|x| x.1.reject).count() as f64 / r;
    println!("chosen ρ: X8 mean {c8:.2} ({k8} of {reps} decided), X1 mean {c1:.2} ({k1} decided)");
    println!("rejection rate at α = 0.05: X8 (null) {rej8:.3}, X1 (alternative) {rej1:.3}");
    println!("total {:.0} s", start.elapsed().as_secs_f64());
    if let Some(path) = out {
        let v: Vec<_> = results
            .iter()
            .map(|(a, b)| serde_json::json!({"X8": a, "X1": b}))
            .collect();
        std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write");
    }
}
