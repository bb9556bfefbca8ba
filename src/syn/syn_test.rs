//! Syn-Test (Shen, Liu & Shen 2023): a test that features S are irrelevant to the target given
//! the other features, run on synthetic data whose volume m is tuned so that the estimated
//! Type-I error stays at most α.
//!
//! - The inference rows are split into two halves and a generator is fine-tuned on each (the
//!   "twins").
//! - A full prediction model f and a partial one g (without S) are trained on real training
//!   rows kept apart from the inference rows (the black-box test's training split) or, without
//!   them, on synthetic rows of twin 1. The statistic is the black-box test of Dai, Shen & Pan
//!   (2021): on m rows, Δᵢ = loss(g) − loss(f) and T = √m · mean(Δ) / sd(Δ); large T says S
//!   matters.
//! - Null data: S replaced by a draw from its prediction given the other features (a model
//!   fitted on each twin's own synthetic rows: the predicted value plus a resampled residual, or a class
//!   drawn from the predicted probabilities). S then carries nothing about the target beyond
//!   the other features, and keeps its spread, so the prediction models see inputs like the
//!   ones they were trained on.
//! - The decision at m: direction 1 compares T on twin 2's synthetic rows with the null
//!   distribution of T from D chunks of twin 1's null data (a Monte Carlo p-value), direction
//!   2 the reverse; Hommel's combination of the two p-values is compared with α.
//! - The Type-I error of that decision at each ρ (m = ρ·n) is estimated by making it on each
//!   twin's null chunks in turn (against the other twin's null chunks, that chunk left out):
//!   the twins differ by generation error, and the more rows, the more standard errors apart
//!   they are, so the curve rises with m. The chosen ρ is the largest before the curve first
//!   exceeds α; the test is decided there on fresh synthetic chunks of both twins.
//!
//! On the paper's simulation (examples/syn_test_simulation.rs, 100 replications) the
//! estimated Type-I curve for the irrelevant X8 rises from 0.036 at ρ = 0.1 to 0.37 at ρ = 5,
//! X8 is rejected in 7% of replications (α = 0.05) and the relevant X1 in 75%; the test
//! declines to decide where even the smallest ratio's estimate exceeds α (17% and 25%). The
//! paper's scripts also apply a bias correction to the estimated Type-I error whose form is
//! not published with the method; none is applied here.

use rand_xoshiro::rand_core::Rng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::metrics::{FeatureMap, FeatureOptions, LeastSquares, LogisticRegression};
use crate::model::{FitRequest, SampleOptions, Synthesizer};
use crate::progress::{Progress, ProgressFn};
use crate::rng::row_rng;
use crate::table::{ColumnData, ColumnKind, Table};

/// The twin generators and the halves they were fine-tuned on.
pub struct Twins {
    pub halves: [Table; 2],
    pub models: [Synthesizer; 2],
    /// Inference rows n (both halves).
    pub n: usize,
    /// Synthetic rows drawn so far, per twin (reused by later tests).
    drawn: [Option<Table>; 2],
    seed: u64,
    threads: usize,
}

/// Splits `data` into two halves at random and fine-tunes a twin generator on each.
pub fn twins(
    pretrained: &Synthesizer,
    data: &Table,
    fine_tune: &FitRequest,
    seed: u64,
    progress: ProgressFn,
) -> Result<Twins> {
    let plan = fine_tune.check_fine_tune(pretrained)?;
    let n = data.n_rows();
    if n < 20 {
        return Err(Error::data(format!(
            "Syn-Test needs at least 20 inference rows, got {n}"
        )));
    }
    let mut rng = row_rng(seed, 0x7715, 0);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let (a, b) = order.split_at(n / 2);
    let halves = [data.select_rows(a), data.select_rows(b)];
    let mut models = Vec::with_capacity(2);
    for (k, h) in halves.iter().enumerate() {
        let mut p = plan.clone();
        p.options.seed = plan.options.seed.wrapping_add(k as u64);
        let (m, _) = pretrained.fine_tune_plan(h, &p, &mut *progress)?;
        models.push(m);
    }
    let [m1, m2]: [Synthesizer; 2] = models.try_into().map_err(|_| Error::invalid("two twins"))?;
    let halves = halves
        .map(|h| h.conform_to(m1.schema()))
        .map(|h| h.expect("fine-tuned on it"));
    Ok(Twins {
        halves,
        models: [m1, m2],
        n,
        drawn: [None, None],
        seed,
        threads: plan.options.threads,
    })
}

impl Twins {
    /// At least `rows` synthetic rows of twin `k` (the first `rows` of one draw, reused).
    fn rows(&mut self, k: usize, rows: usize, progress: ProgressFn) -> Result<Table> {
        if self.drawn[k].as_ref().is_none_or(|t| t.n_rows() < rows) {
            let opts = SampleOptions {
                threads: self.threads,
                ..SampleOptions::default()
            };
            let t = self.models[k].sample(
                rows,
                self.seed.wrapping_add(0x51E7 + k as u64),
                &opts,
                &mut *progress,
            )?;
            self.drawn[k] = Some(t);
        }
        let t = self.drawn[k].as_ref().expect("drawn");
        Ok(t.select_rows(&(0..rows).collect::<Vec<_>>()))
    }
}

/// Settings of one test.
#[derive(Debug, Clone)]
pub struct SynTestOptions {
    pub target: String,
    /// The features S whose irrelevance is the null hypothesis.
    pub features: Vec<String>,
    /// Ratios ρ = m / n to consider (default 0.1, 0.25, 0.5, 1, 2, 3, 5, 10: on the paper's
    /// simulation the estimated Type-I error passes α = 0.05 near ρ = 0.5, so a grid that
    /// starts at 1 would mostly leave the test undecided).
    pub ratios: Vec<f64>,
    /// Monte Carlo chunks D per ratio (default 100).
    pub mc: usize,
    pub alpha: f64,
    /// Synthetic rows (from twin 1) to train the prediction models f and g when no
    /// `training` rows are given (default 10·n).
    pub model_rows: Option<usize>,
    /// Real rows kept apart from the inference rows, to train f and g (the black-box test's
    /// training split). Without them f and g are fitted on `model_rows` synthetic rows of twin
    /// 1, which carry what the twin memorised from its half.
    pub training: Option<Table>,
}

impl SynTestOptions {
    pub fn new(target: &str, features: &[&str]) -> Self {
        SynTestOptions {
            target: target.to_string(),
            features: features.iter().map(|s| s.to_string()).collect(),
            ratios: vec![0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0],
            mc: 100,
            alpha: 0.05,
            model_rows: None,
            training: None,
        }
    }
}

/// One ratio of the estimated Type-I curve.
#[derive(Debug, Clone, Serialize)]
pub struct SynTestPoint {
    pub ratio: f64,
    pub m: usize,
    /// Estimated Type-I error at this m: how often the test's own decision (both directions,
    /// Hommel's combination at α) rejects when each twin's null-replaced rows stand in for the
    /// data, against the other twin's null distribution.
    pub type_i: f64,
    /// Share of rejections on the twins' synthetic data (not null-replaced): the power the
    /// test would have if the twins were the truth.
    pub rejection_rate: f64,
}

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SynTestResult {
    pub target: String,
    pub features: Vec<String>,
    pub n: usize,
    pub alpha: f64,
    pub mc: usize,
    pub points: Vec<SynTestPoint>,
    /// The largest ρ before the estimated Type-I curve first exceeds α (null when it does at
    /// the smallest ratio).
    pub chosen_ratio: Option<f64>,
    pub chosen_m: Option<usize>,
    /// The statistics T of the two directions at the chosen m (twin 2 against twin 1's null
    /// distribution, and the reverse).
    pub statistics: Option<[f64; 2]>,
    pub p_values: Option<[f64; 2]>,
    /// Hommel's combination of the two p-values.
    pub p_value: Option<f64>,
    pub reject: bool,
    pub notes: Vec<String>,
}

/// A prediction model for one column from some of the others.
struct Predictor {
    keep: Vec<usize>,
    map: FeatureMap,
    /// Index of the predicted column inside `keep`.
    target: usize,
    model: Fitted,
    /// Training residuals (numeric target), resampled by `draw`.
    residuals: Vec<f64>,
}

enum Fitted {
    Ls(LeastSquares),
    Logit(LogisticRegression),
}

impl Predictor {
    /// Predicts column `target` of `train` from every column but `target` and `drop`, with
    /// second-order numeric terms when `second_order` (a flexible but fast learner).
    fn fit(train: &Table, target: usize, drop: &[usize], second_order: bool) -> Result<Predictor> {
        let keep: Vec<usize> = (0..train.n_cols()).filter(|j| !drop.contains(j)).collect();
        let t = keep.iter().position(|&j| j == target).expect("target kept");
        let proj = train.select_columns(&keep);
        let map = FeatureMap::fit(
            &[&proj],
            Some(t),
            FeatureOptions {
                second_order,
                ..FeatureOptions::default()
            },
        )?;
        let x = map.design(&proj);
        let mut residuals = Vec::new();
        let model = match (proj.column(t), &proj.schema().columns[t].kind) {
            (ColumnData::Numeric(y), _) => {
                let m = LeastSquares::fit(x.view(), y)?;
                residuals = m
                    .predict(x.view())
                    .iter()
                    .zip(y)
                    .filter(|(_, y)| !y.is_nan())
                    .map(|(p, y)| y - p)
                    .collect();
                Fitted::Ls(m)
            }
            (ColumnData::Categorical(y), ColumnKind::Categorical { levels }) => {
                Fitted::Logit(LogisticRegression::fit(x.view(), y, levels.len(), 1.0)?)
            }
            _ => unreachable!("Table::new checks kinds"),
        };
        Ok(Predictor {
            keep,
            map,
            target: t,
            model,
            residuals,
        })
    }

    /// Per-row loss on `t`: squared error, or minus the log-probability of the class.
    fn losses(&self, t: &Table) -> Vec<f64> {
        let proj = t.select_columns(&self.keep);
        let x = self.map.design(&proj);
        match (&self.model, proj.column(self.target)) {
            (Fitted::Ls(m), ColumnData::Numeric(y)) => m
                .predict(x.view())
                .iter()
                .zip(y)
                .map(|(p, y)| (p - y).powi(2))
                .collect(),
            (Fitted::Logit(m), ColumnData::Categorical(y)) => {
                let p = m.predict_proba(x.view());
                y.iter()
                    .enumerate()
                    .map(|(i, &c)| -(p[[i, c as usize]].max(1e-12)).ln())
                    .collect()
            }
            _ => unreachable!("same schema"),
        }
    }

    /// A draw of the column for the rows of `t` from its predicted conditional distribution:
    /// the prediction plus a resampled training residual, or a class drawn from the predicted
    /// probabilities.
    fn draw(&self, t: &Table, rng: &mut impl Rng) -> ColumnData {
        let proj = t.select_columns(&self.keep);
        let x = self.map.design(&proj);
        let mut u = || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        match &self.model {
            Fitted::Ls(m) => {
                let r = &self.residuals;
                ColumnData::Numeric(
                    m.predict(x.view())
                        .iter()
                        .map(|p| {
                            let k =
                                ((u() * r.len() as f64) as usize).min(r.len().saturating_sub(1));
                            p + r.get(k).copied().unwrap_or(0.0)
                        })
                        .collect(),
                )
            }
            Fitted::Logit(m) => {
                let p = m.predict_proba(x.view());
                ColumnData::Categorical(
                    p.rows()
                        .into_iter()
                        .map(|row| {
                            let (v, mut acc) = (u(), 0.0);
                            for (c, &q) in row.iter().enumerate() {
                                acc += q;
                                if v < acc {
                                    return c as u32;
                                }
                            }
                            (row.len() - 1) as u32
                        })
                        .collect(),
                )
            }
        }
    }
}

/// √m · mean(Δ) / sd(Δ), with the sign of the mean when Δ has no spread.
fn statistic(delta: &[f64]) -> f64 {
    let m = delta.len() as f64;
    let mean = delta.iter().sum::<f64>() / m;
    let var = delta.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (m - 1.0).max(1.0);
    if var > 0.0 {
        m.sqrt() * mean / var.sqrt()
    } else if mean > 0.0 {
        f64::INFINITY
    } else if mean < 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    }
}

/// One-sided Monte Carlo p-value of `t` against `null`: (1 + #{null ≥ t}) / (1 + |null|).
fn p_value(t: f64, null: &[f64]) -> f64 {
    (1 + null.iter().filter(|&&x| x >= t).count()) as f64 / (1 + null.len()) as f64
}

/// Hommel's combination of p-values: C_K · min_k K·p₍ₖ₎ / k with C_K = Σ 1/k.
pub fn hommel(p: &[f64]) -> f64 {
    let k = p.len() as f64;
    let mut s = p.to_vec();
    s.sort_by(f64::total_cmp);
    let c: f64 = (1..=p.len()).map(|i| 1.0 / i as f64).sum();
    let m = s
        .iter()
        .enumerate()
        .map(|(i, &x)| k * x / (i + 1) as f64)
        .fold(f64::INFINITY, f64::min);
    (c * m).min(1.0)
}

/// Runs Syn-Test on prepared twins.
pub fn syn_test(
    twins: &mut Twins,
    opts: &SynTestOptions,
    progress: ProgressFn,
) -> Result<SynTestResult> {
    let schema = twins.models[0].schema().clone();
    let t = schema.require(&opts.target)?;
    if opts.features.is_empty() {
        return Err(Error::invalid("name at least one feature to test"));
    }
    let mut s_cols = Vec::new();
    for f in &opts.features {
        let j = schema.require(f)?;
        if j == t {
            return Err(Error::invalid(format!(
                "'{f}' is the target; the features tested must be predictors"
            )));
        }
        s_cols.push(j);
    }
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(Error::invalid(format!(
            "α must be in (0, 1), got {}",
            opts.alpha
        )));
    }
    // A Monte Carlo p-value against D − 1 reference chunks is at least 1/D, and Hommel's
    // combination of two needs one of them below α/3: with fewer chunks the estimated Type-I
    // error is 0 by construction.
    let min_mc = (3.0 / opts.alpha).floor() as usize + 1;
    if opts.mc < min_mc {
        return Err(Error::invalid(format!(
            "{} Monte Carlo chunks cannot resolve α = {}: at least {min_mc} are needed",
            opts.mc, opts.alpha
        )));
    }
    if opts.ratios.is_empty() || opts.ratios.iter().any(|r| !(*r > 0.0 && r.is_finite())) {
        return Err(Error::invalid("the ratios must be positive"));
    }
    for h in &twins.halves {
        if h.column(t).missing_count() > 0 {
            return Err(Error::data(format!(
                "the target '{}' has missing values in the inference rows",
                opts.target
            )));
        }
    }
    let n = twins.n;
    let mut ratios = opts.ratios.clone();
    ratios.sort_by(f64::total_cmp);
    let sizes: Vec<usize> = ratios
        .iter()
        .map(|r| ((r * n as f64).round() as usize).max(2))
        .collect();
    let m_max = *sizes.last().expect("non-empty");
    let d = opts.mc;
    let model_rows = opts.model_rows.unwrap_or(10 * n).max(20);

    // Prediction models f (full) and g (without S) on twin 1's synthetic rows, drawn after
    // the Monte Carlo blocks so that they are separate rows.
    let largest = ratios.last().copied().unwrap_or(0.0);
    let block = d.saturating_mul(2).saturating_add(1).saturating_mul(m_max);
    twins.models[0].check_sample_memory(
        block.saturating_add(model_rows),
        SampleOptions::default().batch_size,
        &format!(
            "Syn-Test at the largest ratio ρ = {largest} ((2·{d} + 1) Monte Carlo chunks of m = ρ·n = {m_max} rows, and {model_rows} more, per twin)"
        ),
        "use smaller ratios or fewer Monte Carlo chunks (option mc)",
    )?;
    let all1 = twins.rows(0, block + model_rows, &mut *progress)?;
    let all2 = twins.rows(1, block + model_rows, &mut *progress)?;
    let extra = |all: &Table| all.select_rows(&(block..block + model_rows).collect::<Vec<_>>());
    let (fit1, fit2) = (extra(&all1), extra(&all2));
    let model_train = match &opts.training {
        Some(real) => {
            let real = real.conform_to(&schema)?;
            if real.n_rows() < 20 {
                return Err(Error::invalid(format!(
                    "the training rows for f and g are too few ({}; at least 20)",
                    real.n_rows()
                )));
            }
            if real.column(t).missing_count() > 0 {
                return Err(Error::data(format!(
                    "the target '{}' has missing values in the training rows",
                    opts.target
                )));
            }
            real
        }
        None => fit1.clone(),
    };
    let f = Predictor::fit(&model_train, t, &[], true)?;
    let g = Predictor::fit(&model_train, t, &s_cols, true)?;
    // Null models per twin, each S column from the other features (not the target), linear,
    // fitted on the twin's own synthetic rows (the halves are small: a flexible model fitted
    // on them differs between the twins by noise alone).
    let null_models: Vec<Vec<(usize, Predictor)>> = [&fit1, &fit2]
        .iter()
        .map(|h| {
            s_cols
                .iter()
                .map(|&j| {
                    let drop: Vec<usize> = s_cols
                        .iter()
                        .copied()
                        .filter(|&c| c != j)
                        .chain([t])
                        .collect();
                    Predictor::fit(h, j, &drop, false).map(|p| (j, p))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let deltas = |rows: &Table| -> Vec<f64> {
        f.losses(rows)
            .iter()
            .zip(g.losses(rows))
            .map(|(lf, lg)| lg - lf)
            .collect()
    };
    let null_replaced = |rows: &Table, k: usize| -> Result<Table> {
        let mut rng = row_rng(twins.seed, 0x4E11 + k as u64, 0);
        let mut out = rows.clone();
        for (j, p) in &null_models[k] {
            out = out.replace_column(*j, p.draw(&out, &mut rng))?;
        }
        Ok(out)
    };
    // Per-row Δ of the four blocks: null-replaced A (null reference / Type-I) and plain B
    // (the twins as truth; its last chunk decides the test).
    let rows = |t: &Table, lo: usize, hi: usize| t.select_rows(&(lo..hi).collect::<Vec<_>>());
    let a1 = deltas(&null_replaced(&rows(&all1, 0, d * m_max), 0)?);
    let a2 = deltas(&null_replaced(&rows(&all2, 0, d * m_max), 1)?);
    let b1 = deltas(&rows(&all1, d * m_max, block));
    let b2 = deltas(&rows(&all2, d * m_max, block));

    let mut points = Vec::with_capacity(sizes.len());
    for (i, (&ratio, &m)) in ratios.iter().zip(&sizes).enumerate() {
        let chunk = |v: &[f64], c: usize| statistic(&v[c * m..(c + 1) * m]);
        let n1: Vec<f64> = (0..d).map(|c| chunk(&a1, c)).collect();
        let n2: Vec<f64> = (0..d).map(|c| chunk(&a2, c)).collect();
        // Type-I error of the decision rule itself: chunk c of each twin's null statistics
        // plays the data of its direction, against the other twin's null statistics without
        // their chunk c (so data and reference never share rows).
        let without = |v: &[f64], c: usize| -> Vec<f64> {
            v.iter()
                .enumerate()
                .filter(|&(i, _)| i != c)
                .map(|(_, &x)| x)
                .collect()
        };
        let false_rejections = (0..d)
            .filter(|&c| {
                let ps = [
                    p_value(n2[c], &without(&n1, c)),
                    p_value(n1[c], &without(&n2, c)),
                ];
                hommel(&ps) <= opts.alpha
            })
            .count();
        let type_i = false_rejections as f64 / d as f64;
        let mut rejections = 0;
        for c in 0..d {
            // Direction 1: twin 2 against twin 1's null; direction 2: the reverse.
            if hommel(&[p_value(chunk(&b2, c), &n1), p_value(chunk(&b1, c), &n2)]) <= opts.alpha {
                rejections += 1;
            }
        }
        points.push(SynTestPoint {
            ratio,
            m,
            type_i,
            rejection_rate: rejections as f64 / d as f64,
        });
        if !progress(&Progress {
            stage: "test",
            done: i + 1,
            total: sizes.len(),
            loss: f64::NAN,
        }) {
            return Err(Error::cancelled());
        }
    }
    // The curve rises with m (the twins drift apart by more standard errors); a noisy
    // estimate that dips under α again past the first crossing is not trusted.
    let chosen = points
        .iter()
        .position(|p| p.type_i > opts.alpha)
        .unwrap_or(points.len())
        .checked_sub(1);
    let mut notes = vec![
        "no bias correction is applied to the estimated Type-I error".to_string(),
        format!(
            "prediction models: {} on {}, second-order numeric terms",
            if matches!(f.model, Fitted::Ls(_)) {
                "least squares (squared-error loss)"
            } else {
                "logistic regression (log loss)"
            },
            if opts.training.is_some() {
                format!("{} real training rows", model_train.n_rows())
            } else {
                format!("{model_rows} synthetic rows of twin 1")
            }
        ),
    ];
    let (statistics, p_values, p_value_comb, reject) = match chosen {
        Some(i) => {
            let m = sizes[i];
            let n1: Vec<f64> = (0..d).map(|c| statistic(&a1[c * m..(c + 1) * m])).collect();
            let n2: Vec<f64> = (0..d).map(|c| statistic(&a2[c * m..(c + 1) * m])).collect();
            let t1 = statistic(&b2[d * m..(d + 1) * m]);
            let t2 = statistic(&b1[d * m..(d + 1) * m]);
            let ps = [p_value(t1, &n1), p_value(t2, &n2)];
            let p = hommel(&ps);
            (Some([t1, t2]), Some(ps), Some(p), p <= opts.alpha)
        }
        None => {
            notes.push(format!(
                "no ratio keeps the estimated Type-I error at most α = {}: the test is not decided",
                opts.alpha
            ));
            (None, None, None, false)
        }
    };
    Ok(SynTestResult {
        target: opts.target.clone(),
        features: opts.features.clone(),
        n,
        alpha: opts.alpha,
        mc: d,
        chosen_ratio: chosen.map(|i| points[i].ratio),
        chosen_m: chosen.map(|i| points[i].m),
        points,
        statistics,
        p_values,
        p_value: p_value_comb,
        reject,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hommel_and_p_values() {
        // Two p-values: 1.5 · min(2·p₍₁₎, p₍₂₎).
        assert!((hommel(&[0.01, 0.2]) - 0.03).abs() < 1e-12);
        assert!((hommel(&[0.04, 0.05]) - 0.075).abs() < 1e-12);
        assert_eq!(hommel(&[0.9, 0.8]), 1.0);
        assert!((p_value(2.0, &[1.0, 3.0, 2.0]) - 0.75).abs() < 1e-12);
        assert!((statistic(&[1.0, 2.0, 3.0]) - 3f64.sqrt() * 2.0).abs() < 1e-12);
        assert_eq!(statistic(&[1.0, 1.0]), f64::INFINITY);
    }
}

/// A whole Syn-Test as one request (the C ABI's and the bindings' form): every field but the
/// target and the features optional, the defaults of [`SynTestOptions::new`]; unknown keys
/// are an error.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynTestRequest {
    pub target: String,
    pub features: Vec<String>,
    #[serde(default)]
    pub ratios: Option<Vec<f64>>,
    #[serde(default)]
    pub mc: Option<usize>,
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default)]
    pub model_rows: Option<usize>,
    /// Seed of the halves and of the twins' sampling.
    #[serde(default)]
    pub seed: Option<u64>,
    /// How the twins are fine-tuned (steps, learning rate, threads, device, ...).
    #[serde(default)]
    pub fine_tune: Option<FitRequest>,
}

/// Runs Syn-Test as `req` asks: the twins fine-tuned from `pretrained` on halves of `data`,
/// the prediction models on `training` when given.
pub fn syn_test_request(
    pretrained: &Synthesizer,
    data: &Table,
    training: Option<&Table>,
    req: &SynTestRequest,
    progress: ProgressFn,
) -> Result<SynTestResult> {
    let features: Vec<&str> = req.features.iter().map(String::as_str).collect();
    let mut opts = SynTestOptions::new(&req.target, &features);
    if let Some(r) = &req.ratios {
        opts.ratios = r.clone();
    }
    opts.mc = req.mc.unwrap_or(opts.mc);
    opts.alpha = req.alpha.unwrap_or(opts.alpha);
    opts.model_rows = req.model_rows.or(opts.model_rows);
    opts.training = training.cloned();
    let seed = req.seed.unwrap_or_default();
    let mut ft = req.fine_tune.clone().unwrap_or_default();
    ft.seed = ft.seed.or(req.seed);
    let mut tw = twins(pretrained, data, &ft, seed, &mut *progress)?;
    syn_test(&mut tw, &opts, progress)
}
