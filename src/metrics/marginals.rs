//! Marginal and pairwise fidelity: per-column 1 − KS / 1 − TV, Pearson correlation
//! similarity, contingency similarity, and the distributions the report plots.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::table::{ColumnData, ColumnKind, Table, MISSING};

/// One column's fidelity score (1 is a perfect match of the marginal distribution).
#[derive(Debug, Clone, Serialize)]
pub struct ColumnScore {
    pub column: String,
    /// "numeric" or "categorical".
    pub kind: &'static str,
    /// "1-KS" (numeric) or "1-TV" (categorical; missing counts as a level).
    pub metric: &'static str,
    pub score: f64,
}

/// A symmetric matrix over named columns (null where a value is undefined).
#[derive(Debug, Clone, Serialize)]
pub struct PairMatrix {
    pub columns: Vec<String>,
    pub values: Vec<Vec<Option<f64>>>,
}

/// One column's distribution in both tables, as plotted: bins (numeric) or levels.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub column: String,
    pub kind: &'static str,
    /// Bin labels: "[lo, hi)" ranges or level labels; "(other)" gathers rare levels and
    /// "(missing)" missing values.
    pub labels: Vec<String>,
    /// Share of real rows per label.
    pub real: Vec<f64>,
    /// Share of synthetic rows per label.
    pub synthetic: Vec<f64>,
}

/// Two-sample Kolmogorov–Smirnov statistic on the non-missing values.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let mut x: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut y: Vec<f64> = b.iter().copied().filter(|v| !v.is_nan()).collect();
    match (x.is_empty(), y.is_empty()) {
        (true, true) => return 0.0,
        (true, false) | (false, true) => return 1.0,
        _ => {}
    }
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let (n, m) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < x.len() && j < y.len() {
        let v = x[i].min(y[j]);
        while i < x.len() && x[i] <= v {
            i += 1;
        }
        while j < y.len() && y[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// Total-variation distance between the level frequencies (missing is a level).
pub fn tv_distance(a: &[u32], b: &[u32], n_levels: usize) -> f64 {
    let freq = |v: &[u32]| {
        let mut f = vec![0.0; n_levels + 1];
        for &c in v {
            f[if c == MISSING { n_levels } else { c as usize }] += 1.0;
        }
        let n = v.len().max(1) as f64;
        f.iter_mut().for_each(|x| *x /= n);
        f
    };
    let (p, q) = (freq(a), freq(b));
    0.5 * p.iter().zip(&q).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// Pearson correlation over rows where both are present; None without spread.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| !x.is_nan() && !y.is_nan())
        .map(|(&x, &y)| (x, y))
        .collect();
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Per-column scores; `syn` has `real`'s schema.
pub fn column_scores(real: &Table, syn: &Table) -> Vec<ColumnScore> {
    real.schema()
        .columns
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            let (kind, metric, score) = match (real.column(j), syn.column(j), &spec.kind) {
                (ColumnData::Numeric(a), ColumnData::Numeric(b), _) => {
                    ("numeric", "1-KS", 1.0 - ks_statistic(a, b))
                }
                (
                    ColumnData::Categorical(a),
                    ColumnData::Categorical(b),
                    ColumnKind::Categorical { levels },
                ) => ("categorical", "1-TV", 1.0 - tv_distance(a, b, levels.len())),
                _ => unreachable!("tables share a schema"),
            };
            ColumnScore {
                column: spec.name.clone(),
                kind,
                metric,
                score,
            }
        })
        .collect()
}

/// Pearson correlation matrices of the numeric columns in both tables.
pub fn correlations(real: &Table, syn: &Table) -> (PairMatrix, PairMatrix) {
    let num: Vec<usize> = (0..real.n_cols())
        .filter(|&j| matches!(real.column(j), ColumnData::Numeric(_)))
        .collect();
    let names: Vec<String> = num
        .iter()
        .map(|&j| real.schema().columns[j].name.clone())
        .collect();
    let matrix = |t: &Table| {
        let mut m = vec![vec![None; num.len()]; num.len()];
        for a in 0..num.len() {
            for b in a..num.len() {
                let (ColumnData::Numeric(x), ColumnData::Numeric(y)) =
                    (t.column(num[a]), t.column(num[b]))
                else {
                    unreachable!("numeric columns")
                };
                let r = if a == b {
                    pearson(x, x).map(|_| 1.0)
                } else {
                    pearson(x, y)
                };
                m[a][b] = r;
                m[b][a] = r;
            }
        }
        m
    };
    (
        PairMatrix {
            columns: names.clone(),
            values: matrix(real),
        },
        PairMatrix {
            columns: names,
            values: matrix(syn),
        },
    )
}

/// Mean over numeric pairs of 1 − |ρ_real − ρ_synthetic| / 2, over the pairs whose real
/// correlation is defined; a synthetic pair without spread counts as ρ = 0. None with no
/// such pair.
pub fn correlation_similarity(real: &PairMatrix, syn: &PairMatrix) -> Option<f64> {
    let mut sims = Vec::new();
    let k = real.columns.len();
    for a in 0..k {
        for b in a + 1..k {
            if let Some(r) = real.values[a][b] {
                let s = syn.values[a][b].unwrap_or(0.0);
                sims.push(1.0 - (r - s).abs() / 2.0);
            }
        }
    }
    (!sims.is_empty()).then(|| sims.iter().sum::<f64>() / sims.len() as f64)
}

/// Bins for contingency tables, fitted on the real column: a numeric column gets `NUM_BINS`
/// equal-width bins over the real range (values outside fall into the end bins), a
/// categorical one its levels; missing values get a bin of their own.
#[derive(Debug, Clone)]
enum Binner {
    Numeric { lo: f64, width: f64, bins: usize },
    Categorical { levels: usize },
}

/// Bins per numeric column for contingency similarity (SDMetrics' default).
pub const NUM_BINS: usize = 10;

impl Binner {
    fn fit(col: &ColumnData, kind: &ColumnKind) -> Binner {
        match (col, kind) {
            (ColumnData::Numeric(v), _) => {
                let (lo, hi) = v
                    .iter()
                    .filter(|x| !x.is_nan())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    });
                if lo.is_finite() && hi > lo {
                    Binner::Numeric {
                        lo,
                        width: (hi - lo) / NUM_BINS as f64,
                        bins: NUM_BINS,
                    }
                } else {
                    Binner::Numeric {
                        lo: 0.0,
                        width: 1.0,
                        bins: 1,
                    }
                }
            }
            (_, ColumnKind::Categorical { levels }) => Binner::Categorical {
                levels: levels.len(),
            },
            _ => unreachable!("Table::new checks kinds"),
        }
    }

    /// Number of bins, the missing bin included.
    fn size(&self) -> usize {
        match self {
            Binner::Numeric { bins, .. } => bins + 1,
            Binner::Categorical { levels } => levels + 1,
        }
    }

    fn bins(&self, col: &ColumnData) -> Vec<u32> {
        match (self, col) {
            (Binner::Numeric { lo, width, bins }, ColumnData::Numeric(v)) => v
                .iter()
                .map(|&x| {
                    if x.is_nan() {
                        *bins as u32
                    } else if *bins == 1 {
                        0
                    } else {
                        (((x - lo) / width).floor().max(0.0) as usize).min(bins - 1) as u32
                    }
                })
                .collect(),
            (Binner::Categorical { levels }, ColumnData::Categorical(v)) => v
                .iter()
                .map(|&c| if c == MISSING { *levels as u32 } else { c })
                .collect(),
            _ => unreachable!("tables share a schema"),
        }
    }
}

/// 1 − TV distance between the joint distributions of every column pair (numeric columns
/// binned), with the mean over pairs; diagonal entries are null. None for the mean with
/// fewer than two columns.
pub fn contingency(real: &Table, syn: &Table) -> (PairMatrix, Option<f64>) {
    let k = real.n_cols();
    let binners: Vec<Binner> = (0..k)
        .map(|j| Binner::fit(real.column(j), &real.schema().columns[j].kind))
        .collect();
    let rb: Vec<Vec<u32>> = (0..k).map(|j| binners[j].bins(real.column(j))).collect();
    let sb: Vec<Vec<u32>> = (0..k).map(|j| binners[j].bins(syn.column(j))).collect();
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
        .collect();
    let sims: Vec<f64> = pairs
        .par_iter()
        .map(|&(a, b)| {
            let width = binners[b].size();
            let cells = binners[a].size() * width;
            joint_similarity(&rb[a], &rb[b], &sb[a], &sb[b], width, cells)
        })
        .collect();
    let mut values = vec![vec![None; k]; k];
    for (&(a, b), &s) in pairs.iter().zip(&sims) {
        values[a][b] = Some(s);
        values[b][a] = Some(s);
    }
    let mean = (!sims.is_empty()).then(|| sims.iter().sum::<f64>() / sims.len() as f64);
    let columns = real
        .schema()
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    (PairMatrix { columns, values }, mean)
}

fn joint_similarity(
    ra: &[u32],
    rb: &[u32],
    sa: &[u32],
    sb: &[u32],
    width: usize,
    cells: usize,
) -> f64 {
    let (wr, ws) = (1.0 / ra.len() as f64, 1.0 / sa.len() as f64);
    let tv = if cells <= 1 << 20 {
        let mut d = vec![0.0f64; cells];
        for (&x, &y) in ra.iter().zip(rb) {
            d[x as usize * width + y as usize] += wr;
        }
        for (&x, &y) in sa.iter().zip(sb) {
            d[x as usize * width + y as usize] -= ws;
        }
        d.iter().map(|v| v.abs()).sum::<f64>() / 2.0
    } else {
        // Many levels on both sides: only the occupied cells.
        let mut d: HashMap<usize, f64> = HashMap::new();
        for (&x, &y) in ra.iter().zip(rb) {
            *d.entry(x as usize * width + y as usize).or_default() += wr;
        }
        for (&x, &y) in sa.iter().zip(sb) {
            *d.entry(x as usize * width + y as usize).or_default() -= ws;
        }
        d.values().map(|v| v.abs()).sum::<f64>() / 2.0
    };
    1.0 - tv
}

/// Bins per numeric column in the plotted distributions.
const PLOT_BINS: usize = 20;
/// Levels shown per categorical column in the plots; the rest are "(other)".
const PLOT_LEVELS: usize = 12;

/// Each column's distribution in both tables, for the report's plots.
pub fn distributions(real: &Table, syn: &Table) -> Vec<Distribution> {
    let (nr, ns) = (real.n_rows() as f64, syn.n_rows() as f64);
    real.schema()
        .columns
        .iter()
        .enumerate()
        .map(
            |(j, spec)| match (real.column(j), syn.column(j), &spec.kind) {
                (ColumnData::Numeric(a), ColumnData::Numeric(b), _) => {
                    let (lo, hi) = a
                        .iter()
                        .chain(b.iter())
                        .filter(|x| !x.is_nan())
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                            (l.min(x), h.max(x))
                        });
                    let bins = if lo.is_finite() && hi > lo {
                        PLOT_BINS
                    } else {
                        1
                    };
                    let width = if bins > 1 {
                        (hi - lo) / bins as f64
                    } else {
                        1.0
                    };
                    let count = |v: &[f64], n: f64| {
                        let mut c = vec![0.0; bins + 1];
                        for &x in v {
                            let k = if x.is_nan() {
                                bins
                            } else {
                                (((x - lo) / width).floor().max(0.0) as usize).min(bins - 1)
                            };
                            c[k] += 1.0 / n;
                        }
                        c
                    };
                    let mut labels: Vec<String> = (0..bins)
                        .map(|k| {
                            format!(
                                "[{}, {})",
                                short(lo + k as f64 * width),
                                short(lo + (k + 1) as f64 * width)
                            )
                        })
                        .collect();
                    let (mut r, mut s) = (count(a, nr), count(b, ns));
                    if r[bins] == 0.0 && s[bins] == 0.0 {
                        r.pop();
                        s.pop();
                    } else {
                        labels.push("(missing)".into());
                    }
                    Distribution {
                        column: spec.name.clone(),
                        kind: "numeric",
                        labels,
                        real: r,
                        synthetic: s,
                    }
                }
                (
                    ColumnData::Categorical(a),
                    ColumnData::Categorical(b),
                    ColumnKind::Categorical { levels },
                ) => {
                    let k = levels.len();
                    let freq = |v: &[u32], n: f64| {
                        let mut f = vec![0.0; k + 1];
                        for &c in v {
                            f[if c == MISSING { k } else { c as usize }] += 1.0 / n;
                        }
                        f
                    };
                    let (fr, fs) = (freq(a, nr), freq(b, ns));
                    let mut order: Vec<usize> = (0..k).collect();
                    order.sort_by(|&x, &y| fr[y].total_cmp(&fr[x]).then(x.cmp(&y)));
                    let shown = &order[..k.min(PLOT_LEVELS)];
                    let mut labels: Vec<String> =
                        shown.iter().map(|&l| levels[l].clone()).collect();
                    let mut r: Vec<f64> = shown.iter().map(|&l| fr[l]).collect();
                    let mut s: Vec<f64> = shown.iter().map(|&l| fs[l]).collect();
                    if k > PLOT_LEVELS {
                        labels.push("(other)".into());
                        r.push(order[PLOT_LEVELS..].iter().map(|&l| fr[l]).sum());
                        s.push(order[PLOT_LEVELS..].iter().map(|&l| fs[l]).sum());
                    }
                    if fr[k] > 0.0 || fs[k] > 0.0 {
                        labels.push("(missing)".into());
                        r.push(fr[k]);
                        s.push(fs[k]);
                    }
                    Distribution {
                        column: spec.name.clone(),
                        kind: "categorical",
                        labels,
                        real: r,
                        synthetic: s,
                    }
                }
                _ => unreachable!("tables share a schema"),
            },
        )
        .collect()
}

/// A number written short, for labels.
fn short(x: f64) -> String {
    if x.abs() >= 1e5 || (x != 0.0 && x.abs() < 1e-3) {
        format!("{x:.2e}")
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ColumnSpec, Schema};

    #[test]
    fn ks_matches_hand_computation() {
        // F_a jumps at 1, 2, 3 and F_b at 2, 4: the largest gap is at x = 3, 1 − 1/2.
        assert!((ks_statistic(&[1.0, 2.0, 3.0], &[2.0, 4.0]) - 0.5).abs() < 1e-12);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        assert!((ks_statistic(&[1.0, f64::NAN], &[1.0]) - 0.0).abs() < 1e-12);
    }

    #[test]
    fn tv_counts_missing_as_a_level() {
        assert!((tv_distance(&[0, 1, MISSING, 1], &[0, 0, 1, 1], 2) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn pearson_of_a_line_is_one() {
        assert!(
            (pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]).unwrap() - 0.9979487157886733).abs()
                < 1e-12
        );
        assert_eq!(pearson(&[1.0, 1.0], &[2.0, 3.0]), None);
    }

    fn two_cat(a: Vec<u32>, b: Vec<u32>) -> Table {
        let cat = |n: &str| ColumnSpec {
            name: n.into(),
            kind: ColumnKind::Categorical {
                levels: vec!["x".into(), "y".into()],
            },
        };
        Table::new(
            Schema {
                columns: vec![cat("a"), cat("b")],
            },
            vec![ColumnData::Categorical(a), ColumnData::Categorical(b)],
        )
        .unwrap()
    }

    #[test]
    fn contingency_hand_value() {
        // Real: (x,x), (y,y) each 1/2. Synthetic: (x,y), (y,x), (x,x), (y,y) each 1/4.
        // TV = (|1/2 − 1/4|·2 + |0 − 1/4|·2) / 2 = 1/2.
        let r = two_cat(vec![0, 1], vec![0, 1]);
        let s = two_cat(vec![0, 1, 0, 1], vec![1, 0, 0, 1]);
        let (m, mean) = contingency(&r, &s);
        assert!((mean.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(m.values[0][0], None);
        assert!((m.values[1][0].unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn numeric_bins_follow_the_real_range() {
        let b = Binner::Numeric {
            lo: 0.0,
            width: 1.0,
            bins: 10,
        };
        let v = ColumnData::Numeric(vec![-5.0, 0.0, 9.99, 10.0, 42.0, f64::NAN]);
        assert_eq!(b.bins(&v), vec![0, 0, 9, 9, 9, 10]);
    }
}
