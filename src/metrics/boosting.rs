//! Built-in gradient boosting (the Syn workflow's "SynBoost" analysis): histogram trees grown
//! by forust-ml, which implements XGBoost's algorithm, on the same design matrix as the
//! regressions (trees ignore the standardisation). Log loss for two classes, one-vs-rest log
//! loss for more, squared error for a numeric target.

use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};
use ndarray::{Array2, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::table::MISSING;

/// The booster's settings. The defaults are CatBoost's usual ones for small tables, cut to
/// what a volume sweep can afford: 300 trees of depth 4, learning rate 0.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostingParams {
    pub trees: usize,
    pub depth: usize,
    pub learning_rate: f32,
    /// L2 penalty on the leaf weights.
    pub l2: f32,
    pub seed: u64,
}

impl Default for BoostingParams {
    fn default() -> Self {
        BoostingParams {
            trees: 300,
            depth: 4,
            learning_rate: 0.1,
            l2: 1.0,
            seed: 0,
        }
    }
}

/// A fitted ensemble: one booster per one-vs-rest class (one for two classes or a numeric
/// target).
pub struct Boosting {
    models: Vec<Member>,
    n_classes: usize,
}

/// One one-vs-rest model: a booster, or a constant score where the training rows left
/// nothing to learn (every row in, or every row out of, the class: a log-loss booster's
/// starting score would be infinite).
enum Member {
    Trees(Box<GradientBooster>),
    Constant(f64),
}

impl std::fmt::Debug for Boosting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Boosting")
            .field("models", &self.models.len())
            .field("n_classes", &self.n_classes)
            .finish()
    }
}

fn booster(objective: ObjectiveType, p: &BoostingParams) -> GradientBooster {
    GradientBooster::default()
        .set_objective_type(objective)
        .set_iterations(p.trees)
        .set_max_depth(p.depth)
        .set_learning_rate(p.learning_rate)
        .set_l2(p.l2)
        .set_seed(p.seed)
        // Threads come from the caller's pool (the analysis runs inside one).
        .set_parallel(true)
        .set_num_threads(None)
}

/// Column-major copy of `x` (forust's layout).
fn column_major(x: ArrayView2<f64>) -> Vec<f64> {
    x.t().iter().copied().collect()
}

fn fit_one(x: &[f64], rows: usize, cols: usize, y: &[f64], b: &mut GradientBooster) -> Result<()> {
    let m = Matrix::new(x, rows, cols);
    b.fit_unweighted(&m, y, None)
        .map_err(|e| Error::data(format!("the boosting analysis failed: {e}")))
}

impl Boosting {
    /// Fits a classifier on the rows whose class is present (`MISSING` rows are skipped).
    pub fn fit_classes(
        x: ArrayView2<f64>,
        y: &[u32],
        n_classes: usize,
        p: &BoostingParams,
    ) -> Result<Boosting> {
        let keep: Vec<usize> = (0..y.len()).filter(|&i| y[i] != MISSING).collect();
        if keep.is_empty() {
            return Err(Error::data(
                "no rows with a target value to train the boosting analysis",
            ));
        }
        let xs = x.select(Axis(0), &keep);
        let data = column_major(xs.view());
        let fits: Vec<u32> = if n_classes <= 2 {
            vec![1]
        } else {
            (0..n_classes as u32).collect()
        };
        let mut models = Vec::with_capacity(fits.len());
        for cls in fits {
            let yy: Vec<f64> = keep.iter().map(|&i| (y[i] == cls) as u8 as f64).collect();
            let positives = yy.iter().filter(|&&v| v > 0.0).count();
            if positives == 0 || positives == yy.len() {
                // Far enough from 0 to decide, finite so that argmax stays defined.
                models.push(Member::Constant(if positives == 0 { -30.0 } else { 30.0 }));
                continue;
            }
            let mut b = booster(ObjectiveType::LogLoss, p);
            fit_one(&data, keep.len(), x.ncols(), &yy, &mut b)?;
            models.push(Member::Trees(Box::new(b)));
        }
        Ok(Boosting {
            models,
            n_classes: n_classes.max(2),
        })
    }

    /// Fits a regression on the rows whose target is present (NaN rows are skipped).
    pub fn fit_numeric(x: ArrayView2<f64>, y: &[f64], p: &BoostingParams) -> Result<Boosting> {
        let keep: Vec<usize> = (0..y.len()).filter(|&i| !y[i].is_nan()).collect();
        if keep.is_empty() {
            return Err(Error::data(
                "no rows with a target value to train the boosting analysis",
            ));
        }
        let xs = x.select(Axis(0), &keep);
        let yy: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let mut b = booster(ObjectiveType::SquaredLoss, p);
        fit_one(&column_major(xs.view()), keep.len(), x.ncols(), &yy, &mut b)?;
        Ok(Boosting {
            models: vec![Member::Trees(Box::new(b))],
            n_classes: 0,
        })
    }

    /// The raw scores: log-odds per one-vs-rest model (rows × models), or predicted values.
    pub fn scores(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let data = column_major(x);
        let m = Matrix::new(&data, x.nrows(), x.ncols());
        let mut out = Array2::<f64>::zeros((x.nrows(), self.models.len()));
        for (c, member) in self.models.iter().enumerate() {
            match member {
                Member::Trees(b) => {
                    for (i, v) in b.predict(&m, true).into_iter().enumerate() {
                        out[[i, c]] = v;
                    }
                }
                Member::Constant(v) => out.column_mut(c).fill(*v),
            }
        }
        out
    }

    /// Predicted classes (the largest one-vs-rest score; log-odds above 0 for two classes).
    pub fn predict_classes(&self, x: ArrayView2<f64>) -> Vec<u32> {
        let s = self.scores(x);
        if self.n_classes == 2 && self.models.len() == 1 {
            return s.column(0).iter().map(|&v| (v > 0.0) as u32).collect();
        }
        s.rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold((0usize, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                        if v > bv {
                            (i, v)
                        } else {
                            (bi, bv)
                        }
                    })
                    .0 as u32
            })
            .collect()
    }

    /// Predicted values of a numeric target.
    pub fn predict_values(&self, x: ArrayView2<f64>) -> Vec<f64> {
        self.scores(x).column(0).to_vec()
    }
}
