//! `synthvol demo`: runs the engine's demo recipe ([`synthvol::demo`]) on the bundled Adult
//! data and prints what each stage gives: a fit, a private fit, and the Syn experiment.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use synthvol::demo::{syn_splits, DemoOptions, DemoPlan, SynPlan};
use synthvol::metrics::subsample as subsample_rows;
use synthvol::metrics::{self, EvaluateOptions, Report};
use synthvol::model::{SampleOptions, Synthesizer};
use synthvol::syn;
use synthvol::table::{write_csv, Table};
use synthvol::{datasets, Error, Result};

use super::output::{progress_bar, write_text};

#[derive(Args)]
pub struct DemoArgs {
    /// Training steps of the first fit (fewer is faster and rougher) [default: 4000].
    #[arg(long)]
    steps: Option<usize>,
    /// Synthetic rows to generate [default: as many as the training file has].
    #[arg(long)]
    rows: Option<usize>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Random seed [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the models, the synthetic rows, the reports and the tuning plot into this
    /// folder.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Skip the differentially private run (ε = 1, δ = 1e-5).
    #[arg(long)]
    skip_private: bool,
    /// Skip the Syn experiment (pre-train on men, fine-tune on women, tune the volume).
    #[arg(long)]
    skip_syn: bool,
    /// Small networks and few steps everywhere: checks that the whole workflow runs (CI),
    /// not what it achieves.
    #[arg(long)]
    quick: bool,
}

pub fn demo(a: DemoArgs) -> Result<()> {
    let plan = DemoPlan::new(&DemoOptions {
        quick: a.quick,
        steps: a.steps,
        rows: a.rows,
        seed: a.seed.unwrap_or_default(),
        threads: a.threads.unwrap_or_default(),
    })?;
    if let Some(d) = &a.out_dir {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d.display(), e))?;
    }
    let train = datasets::adult_train()?;
    let test = datasets::adult_test()?;
    println!(
        "synthvol demo: the Adult data ({})",
        datasets::ADULT_CITATION
    );
    println!(
        "  {} training rows, {} test rows, {} columns; target 'income'",
        train.n_rows(),
        test.n_rows(),
        train.n_cols()
    );
    let model = Synthesizer::fit(&train, &plan.fit, &mut progress_bar())?;
    let o = &model.record().options;
    println!(
        "fit: {} steps, batch {}, layers {:?}, T = {}: {:.1} s (final loss {:.4})",
        o.optim.steps,
        o.optim.batch_size,
        o.layers,
        o.timesteps,
        model.record().seconds,
        model.record().loss_history.last().map_or(f64::NAN, |l| l.1)
    );
    let rows = plan.rows.unwrap_or(train.n_rows());
    let syn = sample(&model, rows, &plan)?;
    let start = Instant::now();
    let report = metrics::evaluate(
        &train,
        &syn,
        Some(&test),
        &plan.evaluate,
        &mut progress_bar(),
    )?;
    println!("evaluate: {:.1} s", start.elapsed().as_secs_f64());
    print!("{}", report.to_text());
    if let Some(d) = &a.out_dir {
        save(d, "", &model, &syn, &report)?;
        println!(
            "wrote adult.svmodel, adult_synthetic.csv, report.json and report.html to {}",
            d.display()
        );
    }
    if !a.skip_private {
        private(
            &plan,
            &train,
            &test,
            rows,
            &plan.evaluate,
            a.out_dir.as_deref(),
        )?;
    }
    if !a.skip_syn {
        syn_experiment(&plan.syn, &plan, a.out_dir.as_deref())?;
    }
    Ok(())
}

/// Writes a stage's model, rows and reports into the output folder.
fn save(
    dir: &Path,
    suffix: &str,
    model: &Synthesizer,
    rows: &Table,
    report: &Report,
) -> Result<()> {
    model.save(&dir.join(format!("adult{suffix}.svmodel")))?;
    write_csv(rows, &dir.join(format!("adult{suffix}_synthetic.csv")))?;
    write_text(
        &(report.to_json() + "\n"),
        &dir.join(format!("report{suffix}.json")),
    )?;
    write_text(
        &metrics::to_html(report),
        &dir.join(format!("report{suffix}.html")),
    )
}

/// Samples rows and says how long it took.
fn sample(model: &Synthesizer, rows: usize, plan: &DemoPlan) -> Result<Table> {
    let start = Instant::now();
    let opts = SampleOptions {
        threads: plan.threads,
        ..SampleOptions::default()
    };
    let syn = model.sample(rows, plan.seed, &opts, &mut progress_bar())?;
    println!(
        "sample: {rows} rows in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(syn)
}

/// The demo's private run.
fn private(
    plan: &DemoPlan,
    train: &Table,
    test: &Table,
    rows: usize,
    eval: &EvaluateOptions,
    out_dir: Option<&Path>,
) -> Result<()> {
    println!();
    println!("private run: (ε, δ) = (1, 1e-5), public schema data/adult/schema.json");
    let model = Synthesizer::fit(train, &plan.private, &mut progress_bar())?;
    let p = model
        .record()
        .privacy
        .as_ref()
        .ok_or_else(|| Error::invalid("a private fit without a privacy record"))?;
    println!(
        "fit: ε = {:.4} at δ = {:e} (σ = {:.2}, q = {:.4}, {} steps, C = {}; preprocessing ε {:.3}): {:.1} s",
        p.epsilon, p.delta, p.noise_multiplier, p.sample_rate, p.steps, p.max_grad_norm, p.preprocessing_epsilon, model.record().seconds
    );
    let syn = sample(&model, rows, plan)?;
    let report = metrics::evaluate(train, &syn, Some(test), eval, &mut progress_bar())?;
    let f = &report.fidelity;
    println!("  mean column score          {:.3}", f.mean_column_score);
    if let Some(c) = f.correlation_similarity {
        println!("  correlation similarity     {c:.3}");
    }
    if let Some(c) = f.contingency_similarity {
        println!("  contingency similarity     {c:.3}");
    }
    if let Some(u) = &report.utility {
        println!(
            "  logistic regression accuracy: trained on real {:.4}, on private synthetic {:.4} (gap {:.2} points)",
            u.real.accuracy.unwrap_or(f64::NAN),
            u.synthetic.accuracy.unwrap_or(f64::NAN),
            u.accuracy_gap_points.unwrap_or(f64::NAN)
        );
    }
    if let Some(p) = &report.privacy {
        println!(
            "  closer to training than to holdout {:.1}%, membership-inference AUC {:.3}",
            100.0 * p.closer_to_training_share,
            p.membership_auc
        );
    }
    if let Some(d) = out_dir {
        save(d, "_private", &model, &syn, &report)?;
    }
    Ok(())
}

/// The Syn experiment (Shen, Liu & Shen 2023): pre-train on the men, fine-tune on a sample of
/// the women (also under DP), compare distances to other women, then tune the synthetic volume
/// for logistic regression on validation rows and report the test error at the chosen volume
/// against the raw rows alone.
fn syn_experiment(sp: &SynPlan, plan: &DemoPlan, out_dir: Option<&Path>) -> Result<()> {
    let n = sp.sample_rows;
    println!();
    println!("Syn workflow (Shen, Liu & Shen 2023): pre-train on the men, fine-tune on {n} women");
    let split = syn_splits(
        &datasets::adult_train()?,
        &datasets::adult_test()?,
        n,
        plan.seed,
    )?;
    let (men, small, test) = (&split.men, &split.fine_tune, &split.test);
    println!(
        "  pre-training: {} men; fine-tuning: {n} women; validation: {n} other women; test: {n} women of the test file",
        men.n_rows()
    );
    // Pre-training on public data (declared public: it costs no privacy budget).
    let start = Instant::now();
    let pre = Synthesizer::fit(men, &sp.pretrain, &mut progress_bar())?;
    println!(
        "pre-train: {} steps on {} rows: {:.1} s",
        pre.record().options.optim.steps,
        men.n_rows(),
        start.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let (tuned, _) = pre.fine_tune(small, &sp.fine_tune, &mut progress_bar())?;
    let steps = |m: &Synthesizer| {
        m.record()
            .fine_tuning
            .last()
            .map_or(0, |r| r.options.optim.steps)
    };
    let stopped = tuned
        .record()
        .fine_tuning
        .last()
        .and_then(|r| r.validation.as_ref());
    match stopped {
        Some(v) => println!(
            "fine-tune: {} steps on {n} rows, chosen by early stopping on {} of them held out (at most {}): {:.1} s",
            v.best_step,
            v.held_out_rows,
            steps(&tuned),
            start.elapsed().as_secs_f64()
        ),
        None => println!(
            "fine-tune: {} steps on {n} rows: {:.1} s",
            steps(&tuned),
            start.elapsed().as_secs_f64()
        ),
    }
    let start = Instant::now();
    let (tuned_dp, _) = pre.fine_tune(small, &sp.fine_tune_private, &mut progress_bar())?;
    let spent = tuned_dp
        .record()
        .fine_tuning
        .last()
        .and_then(|r| r.privacy.as_ref());
    let last = tuned_dp.record().fine_tuning.last();
    println!(
        "fine-tune under DP: ε = {:.4} at δ = {:e} for the {n} women ({} steps training {}{}): {:.1} s",
        spent.map_or(f64::NAN, |p| p.epsilon),
        spent.map_or(f64::NAN, |p| p.delta),
        steps(&tuned_dp),
        last.map_or("every parameter", |r| r.options.optim.trainable.describe()),
        if last.is_some_and(|r| r.calibration.is_some()) {
            ", then calibrated to noisy level counts"
        } else {
            ""
        },
        start.elapsed().as_secs_f64()
    );

    // Distances to the women of the test file.
    let draw = |m: &Synthesizer| sample_quiet(m, n, plan.seed, plan.threads);
    let male_rows = men.select_rows(&subsample_rows(men.n_rows(), n, plan.seed, 0x5E3));
    let candidates = [
        ("male raw rows", male_rows),
        ("pre-trained synthetic", draw(&pre)?),
        ("fine-tuned synthetic", draw(&tuned)?),
        ("fine-tuned synthetic, DP ε = 1", draw(&tuned_dp)?),
        ("female fine-tuning rows (real)", small.clone()),
    ];
    println!("distances to {n} women of the test file (Fréchet; exact W1, W2 on {n} rows):");
    println!("  {:<34} {:>9} {:>9} {:>9}", "rows", "Fréchet", "W1", "W2");
    for (name, rows) in &candidates {
        let d = metrics::distances(test, rows, n, plan.seed)?;
        println!(
            "  {name:<34} {:>9.4} {:>9.4} {:>9.4}",
            d.frechet, d.w1, d.w2
        );
    }

    // Generational effect: tune m on the validation rows, assess at the chosen m on the test.
    let mut reports = Vec::new();
    for opts in [&sp.tune, &sp.tune_boosting] {
        let start = Instant::now();
        let r =
            synthvol::demo::transfer_report(&tuned, &split, "income", opts, &mut progress_bar())?;
        let what = opts.analysis.describe(true);
        let t = &r.tune;
        println!(
            "generational effect ({what} on 'income', validation {}, {} generation(s) per ratio; {:.1} s):",
            t.error_metric,
            opts.repeats,
            start.elapsed().as_secs_f64()
        );
        let line: Vec<String> = t
            .points
            .iter()
            .map(|p| format!("ρ={} {:.4}", p.ratio, p.error))
            .collect();
        for chunk in line.chunks(6) {
            println!("  {}", chunk.join("   "));
        }
        println!(
            "  raw rows only {:.4}; reflection point ρ = {}, m = {} ({:.4})",
            t.raw_only_error, t.chosen_ratio, t.chosen_m, t.chosen_error
        );
        if t.raw_only_better {
            println!("  {}", super::syn::RAW_ROWS_BETTER);
        }
        reports.push((what, r));
    }
    println!(
        "test {} on {n} women of the test file, by training rows:",
        reports[0].1.error_metric
    );
    println!(
        "  {:<58} {:>20} {:>18}",
        "trained on", reports[0].0, reports[1].0
    );
    let row = |name: String, f: &dyn Fn(&synthvol::demo::TransferReport) -> f64| {
        println!(
            "  {name:<58} {:>20.4} {:>18.4}",
            f(&reports[0].1),
            f(&reports[1].1)
        );
    };
    row(format!("the {n} raw women"), &|r| r.raw);
    row(format!("the {} men only", men.n_rows()), &|r| r.related);
    row("the men and the raw women pooled".into(), &|r| r.pooled);
    row(
        format!(
            "synthetic women at the reflection point (m = {} / {})",
            reports[0].1.tune.chosen_m, reports[1].1.tune.chosen_m
        ),
        &|r| r.synthetic,
    );
    let r = &reports[0].1.tune;
    let path = out_dir.map_or_else(
        || Path::new("synthvol_demo_tuning.svg").to_path_buf(),
        |d| d.join("tuning.svg"),
    );
    write_text(&syn::tune_svg(r), &path)?;
    println!("wrote the tuning curve to {}", path.display());
    Ok(())
}

fn sample_quiet(model: &Synthesizer, n: usize, seed: u64, threads: usize) -> Result<Table> {
    let opts = SampleOptions {
        threads,
        ..SampleOptions::default()
    };
    model.sample(n, seed, &opts, &mut progress_bar())
}
