//! The demo's Syn experiment (Shen, Liu & Shen 2023, with the bundled Adult data): pre-train
//! on the men, fine-tune on a 1,350-row sample of the women (also under DP), compare distances
//! to 1,350 other women, then tune the synthetic volume for logistic regression on validation
//! rows and report the test error at the chosen volume against the raw rows alone.

use std::path::Path;
use std::time::Instant;

use rand_xoshiro::rand_core::Rng;
use synthvol::metrics;
use synthvol::metrics::subsample as subsample_rows;
use synthvol::model::{DpOptions, FineTuneOptions, FitOptions, SampleOptions, Synthesizer};
use synthvol::rng::row_rng;
use synthvol::syn::{self, TuneOptions};
use synthvol::table::{ColumnData, ColumnKind, PublicSchema, Table};
use synthvol::{datasets, Error, Result};

/// A seeded random order of 0..n.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = row_rng(seed, 0x5E1, 0);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    p
}

/// Sizes and settings of one run (the full experiment or the quick one for CI).
pub struct Plan {
    pub sample_rows: usize,
    pub fit: FitOptions,
    pub tune_steps: usize,
    pub dp_steps: usize,
    pub ratios: Vec<f64>,
    pub repeats: usize,
    pub threads: usize,
    pub seed: u64,
}

/// Rows of `t` whose column `col` has level `level`.
fn rows_with(t: &Table, col: &str, level: &str) -> Result<Vec<usize>> {
    let j = t.schema().require(col)?;
    let (ColumnKind::Categorical { levels }, ColumnData::Categorical(v)) =
        (&t.schema().columns[j].kind, t.column(j))
    else {
        return Err(Error::data(format!("column '{col}' is not categorical")));
    };
    let k = levels
        .iter()
        .position(|l| l == level)
        .ok_or_else(|| Error::data(format!("column '{col}' has no level '{level}'")))?
        as u32;
    Ok((0..v.len()).filter(|&i| v[i] == k).collect())
}

fn sample(model: &Synthesizer, n: usize, seed: u64, threads: usize) -> Result<Table> {
    let opts = SampleOptions {
        threads,
        ..SampleOptions::default()
    };
    model.sample(n, seed, &opts, &mut super::progress_bar())
}

pub fn run(plan: &Plan, out_dir: Option<&Path>) -> Result<()> {
    let n = plan.sample_rows;
    println!();
    println!("Syn workflow (Shen, Liu & Shen 2023): pre-train on the men, fine-tune on {n} women");
    let train = datasets::adult_train()?;
    let test_file = datasets::adult_test()?;
    let public: PublicSchema = datasets::adult_schema()?;
    let men = train.select_rows(&rows_with(&train, "sex", "Male")?);
    let women_idx = rows_with(&train, "sex", "Female")?;
    // Fine-tuning and validation rows: disjoint random samples of the training file's women;
    // test rows: women of the test file.
    let shuffled: Vec<usize> = permutation(women_idx.len(), plan.seed)
        .iter()
        .map(|&i| women_idx[i])
        .collect();
    if shuffled.len() < 2 * n {
        return Err(Error::data(
            "too few women in the training file for the plan",
        ));
    }
    let small = train.select_rows(&shuffled[..n]);
    let valid = train.select_rows(&shuffled[n..2 * n]);
    let test_women = rows_with(&test_file, "sex", "Female")?;
    let test_pick = subsample_rows(test_women.len(), n, plan.seed, 0x5E2);
    let test = test_file.select_rows(&test_pick.iter().map(|&i| test_women[i]).collect::<Vec<_>>());
    println!(
        "  pre-training: {} men; fine-tuning: {n} women; validation: {n} other women; test: {n} women of the test file",
        men.n_rows()
    );

    // Pre-training on public data (declared public: it costs no privacy budget), with the
    // public schema so that level sets (sex = Female, relationship = Wife) are known.
    let start = Instant::now();
    let pre = Synthesizer::fit(&public.apply(&men)?, &plan.fit, &mut super::progress_bar())?;
    println!(
        "pre-train: {} steps on {} rows: {:.1} s",
        plan.fit.optim.steps,
        men.n_rows(),
        start.elapsed().as_secs_f64()
    );
    let mut tune_opts = FineTuneOptions {
        seed: plan.seed,
        threads: plan.threads,
        ..FineTuneOptions::default()
    };
    tune_opts.optim.steps = plan.tune_steps;
    let start = Instant::now();
    let (tuned, _) = pre.fine_tune(&small, &tune_opts, None, &mut super::progress_bar())?;
    println!(
        "fine-tune: {} steps on {n} rows: {:.1} s",
        plan.tune_steps,
        start.elapsed().as_secs_f64()
    );
    let mut dp_opts = tune_opts.clone();
    dp_opts.optim.steps = plan.dp_steps;
    dp_opts.optim.batch_size = 512;
    let dp = DpOptions {
        epsilon: 1.0,
        delta: 1e-5,
        ..DpOptions::default()
    };
    let start = Instant::now();
    let (tuned_dp, _) = pre.fine_tune(&small, &dp_opts, Some(&dp), &mut super::progress_bar())?;
    let spent = tuned_dp
        .record
        .fine_tuning
        .last()
        .and_then(|r| r.privacy.as_ref())
        .map_or(f64::NAN, |p| p.epsilon);
    println!(
        "fine-tune under DP: ε = {spent:.4} at δ = 1e-5 for the {n} women ({} steps): {:.1} s",
        plan.dp_steps,
        start.elapsed().as_secs_f64()
    );

    // Distances to the women of the test file.
    let male_rows = men.select_rows(&subsample_rows(men.n_rows(), n, plan.seed, 0x5E3));
    let candidates = [
        ("male raw rows", male_rows),
        (
            "pre-trained synthetic",
            sample(&pre, n, plan.seed, plan.threads)?,
        ),
        (
            "fine-tuned synthetic",
            sample(&tuned, n, plan.seed, plan.threads)?,
        ),
        (
            "fine-tuned synthetic, DP ε = 1",
            sample(&tuned_dp, n, plan.seed, plan.threads)?,
        ),
        ("female fine-tuning rows (real)", small.clone()),
    ];
    println!("distances to {n} women of the test file (Fréchet; exact W1, W2 on {n} rows):");
    println!("  {:<34} {:>9} {:>9} {:>9}", "rows", "Fréchet", "W1", "W2");
    for (name, rows) in &candidates {
        let d = metrics::distances(&test, rows, n, plan.seed)?;
        println!(
            "  {name:<34} {:>9.4} {:>9.4} {:>9.4}",
            d.frechet, d.w1, d.w2
        );
    }

    // Generational effect: tune m on the validation rows, assess at the chosen m on the test.
    let (mut analysis, metric) = syn::builtin(&small, "income")?;
    let opts = TuneOptions {
        ratios: plan.ratios.clone(),
        repeats: plan.repeats,
        with_raw: false,
        seed: plan.seed,
        threads: plan.threads,
    };
    let start = Instant::now();
    let r = syn::tune(
        &tuned,
        &small,
        &valid,
        &mut *analysis,
        metric,
        &opts,
        &mut super::progress_bar(),
    )?;
    println!(
        "generational effect (logistic regression on 'income', validation {metric}, {} generation(s) per ratio; {:.1} s):",
        plan.repeats,
        start.elapsed().as_secs_f64()
    );
    let line: Vec<String> = r
        .points
        .iter()
        .map(|p| format!("ρ={} {:.4}", p.ratio, p.error))
        .collect();
    for chunk in line.chunks(6) {
        println!("  {}", chunk.join("   "));
    }
    println!(
        "  raw rows only {:.4}; chosen ρ = {}, m = {} ({:.4})",
        r.raw_only_error, r.chosen_ratio, r.chosen_m, r.chosen_error
    );
    if r.raw_only_better {
        println!("  {}", super::RAW_ROWS_BETTER);
    }
    let chosen = sample(&tuned, r.chosen_m, plan.seed ^ 0x7E57, plan.threads)?;
    let at_m = analysis(&chosen, &test)?;
    let raw_only = analysis(&small, &test)?;
    println!(
        "test {metric} on {n} women: trained on the {n} raw rows {raw_only:.4}; on m = {} synthetic rows {at_m:.4}",
        r.chosen_m
    );
    let svg = syn::tune_svg(&r);
    let path = out_dir.map_or_else(
        || Path::new("synthvol_demo_tuning.svg").to_path_buf(),
        |d| d.join("tuning.svg"),
    );
    super::write_text(&svg, &path)?;
    println!("wrote the tuning curve to {}", path.display());
    Ok(())
}
