//! Scores of predictions against the truth: accuracy, macro-F1, ROC AUC, RMSE, R².

use ndarray::ArrayView2;

/// Accuracy and macro-F1 over (truth, prediction) pairs; the macro average runs over the
/// classes that occur as truth or prediction, as scikit-learn's `f1_score(average="macro")`.
pub fn accuracy_macro_f1(pairs: &[(u32, u32)], n_classes: usize) -> (f64, f64) {
    let accuracy = pairs.iter().filter(|(t, p)| t == p).count() as f64 / pairs.len() as f64;
    let mut f1s = Vec::new();
    for c in 0..n_classes as u32 {
        let tp = pairs.iter().filter(|&&(t, p)| t == c && p == c).count() as f64;
        let fp = pairs.iter().filter(|&&(t, p)| t != c && p == c).count() as f64;
        let fn_ = pairs.iter().filter(|&&(t, p)| t == c && p != c).count() as f64;
        if tp + fp + fn_ == 0.0 {
            continue;
        }
        f1s.push(2.0 * tp / (2.0 * tp + fp + fn_));
    }
    (accuracy, f1s.iter().sum::<f64>() / f1s.len().max(1) as f64)
}

/// Area under the ROC curve of `scores` for the positives in `labels` (the Mann–Whitney
/// statistic; tied scores count one half). None when one class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the positives' mid-ranks (1-based).
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum += mid;
            }
        }
        i = j + 1;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

/// ROC AUC of class probabilities: the positive class's for two classes, the macro average of
/// one-vs-rest AUCs over the classes present in the truth for more (scikit-learn's
/// `roc_auc_score(multi_class="ovr", average="macro")`). Rows with a missing truth are skipped
/// by the caller.
pub fn class_auc(proba: ArrayView2<f64>, truth: &[u32]) -> Option<f64> {
    let k = proba.ncols();
    let classes: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
    let mut aucs = Vec::new();
    for c in classes {
        let labels: Vec<bool> = truth.iter().map(|&t| t as usize == c).collect();
        let scores: Vec<f64> = proba.column(c).to_vec();
        if let Some(a) = roc_auc(&scores, &labels) {
            aucs.push(a);
        }
    }
    (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
}

/// Root mean squared error and R² (1 − SSE/SST around the truth's mean).
pub fn rmse_r2(pred: &[f64], truth: &[f64]) -> (f64, f64) {
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let sse: f64 = pred.iter().zip(truth).map(|(p, t)| (p - t).powi(2)).sum();
    let sst: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let r2 = if sst > 0.0 { 1.0 - sse / sst } else { f64::NAN };
    ((sse / n).sqrt(), r2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn auc_hand_values() {
        // scikit-learn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
        let a = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((a - 0.75).abs() < 1e-12);
        // A tie between a positive and a negative counts one half: (1 + 0.5) / 2.
        let a = roc_auc(&[0.5, 0.5, 0.9], &[false, true, true]).unwrap();
        assert!((a - 0.75).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn multiclass_auc_is_the_macro_average() {
        let p = array![
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.3, 0.3, 0.4],
            [0.5, 0.4, 0.1]
        ];
        let truth = [0, 1, 2, 1];
        // Class 0: positives {0.8} vs {0.2, 0.3, 0.5} → 1; class 1: {0.7, 0.4} vs {0.1, 0.3}
        // → 1; class 2: {0.4} vs {0.1, 0.1, 0.1} → 1.
        assert!((class_auc(p.view(), &truth).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn f1_and_regression_hand_values() {
        let (acc, f1) = accuracy_macro_f1(&[(0, 0), (0, 1), (1, 1), (1, 1)], 2);
        assert!((acc - 0.75).abs() < 1e-12);
        // class 0: 2·1/(2+0+1) = 2/3; class 1: 2·2/(4+1+0) = 4/5
        assert!((f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        let (rmse, r2) = rmse_r2(&[1.0, 2.0, 4.0], &[1.0, 3.0, 5.0]);
        assert!((rmse - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // SSE 2, SST 8 around the mean 3.
        assert!((r2 - 0.75).abs() < 1e-12);
    }
}
