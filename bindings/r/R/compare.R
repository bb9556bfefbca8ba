#' Compare synthetic rows with real ones
#'
#' The engine's evaluation report: fidelity (each column's 1 - KS or 1 - TV, correlation and
#' contingency similarity, pMSE, detection AUC, Fréchet and Wasserstein distances), with a
#' `holdout` of real rows the generator never saw the privacy risk (distance to closest
#' record, membership-inference AUC), and with a `target` too the utility (a model trained on
#' synthetic rows and tested on the holdout, against one trained on the real rows).
#'
#' @param real The real rows (the model's training data), a data frame.
#' @param synthetic The synthetic rows.
#' @param holdout Real rows kept apart from training, or `NULL`.
#' @param target A column for utility (needs `holdout`).
#' @param seed Seed of the subsamples and folds \[0\].
#' @param threads Threads \[0: all cores\].
#' @param progress As in [sv_fit()].
#' @param ... Other evaluation options by name: `wasserstein_rows` \[1000\], `privacy_rows`
#'   \[20000\], `propensity_rows` \[50000\], `detection_folds` \[5\].
#' @return An `sv_compare` object: the report as a list (its keys are those of
#'   `synthvol evaluate --json`), with `print()`, `plot()` and `as.data.frame()` (the
#'   per-column scores) methods.
#' @examples
#' adult <- sv_adult()
#' m <- sv_fit(adult$train[1:500, ], target = "income", steps = 30, layers = 16,
#'             timesteps = 5, progress = FALSE)
#' s <- sv_sample(m, 500, seed = 1)
#' r <- sv_compare(adult$train[1:500, ], s, holdout = adult$test[1:300, ], target = "income",
#'                 wasserstein_rows = 100)
#' r
#' head(as.data.frame(r))
#' plot(r)
#' @export
sv_compare <- function(real, synthetic, holdout = NULL, target = NULL, seed = NULL,
                       threads = NULL, progress = interactive(), ...) {
  r <- to_columns(real, "real")$columns
  s <- to_columns(synthetic, "synthetic")$columns
  h <- if (is.null(holdout)) NULL else to_columns(holdout, "holdout")$columns
  json <- req_json(c(list(target = target, seed = seed, threads = threads), list(...)))
  report <- from_json(.Call(C_evaluate, r, s, h, json, progress_fn(progress)))
  structure(report, class = "sv_compare")
}

#' @rdname sv_compare
#' @export
print.sv_compare <- function(x, ...) {
  f <- x$fidelity
  cat(sprintf("synthvol evaluation: %d real rows, %d synthetic rows%s\n", x$real_rows,
              x$synthetic_rows, if (is.null(x$holdout_rows)) "" else sprintf(", %d holdout rows", x$holdout_rows)))
  line <- function(what, v, fmt = "%.3f") if (!is.null(v)) cat(sprintf(paste0("  %-34s ", fmt, "\n"), what, v))
  line("mean column score", f$mean_column_score)
  line("correlation similarity", f$correlation_similarity)
  line("contingency similarity", f$contingency_similarity)
  if (!is.null(f$pmse)) line("pMSE", f$pmse$pmse, "%.5f")
  if (!is.null(f$detection)) line("detection AUC", f$detection$auc)
  line("Frechet distance", f$frechet_distance)
  if (!is.null(f$wasserstein)) {
    cat(sprintf("  %-34s %.3f / %.3f\n", "Wasserstein-1 / -2", f$wasserstein$w1, f$wasserstein$w2))
  }
  u <- x$utility
  if (!is.null(u)) {
    if (!is.null(u$real$accuracy)) {
      cat(sprintf("  %-34s real %.4f, synthetic %.4f\n", "utility: accuracy", u$real$accuracy, u$synthetic$accuracy))
    }
    if (!is.null(u$real$rmse)) {
      cat(sprintf("  %-34s real %.4f, synthetic %.4f\n", "utility: RMSE", u$real$rmse, u$synthetic$rmse))
    }
  }
  p <- x$privacy
  if (!is.null(p)) {
    line("closer to training than holdout", p$closer_to_training_share)
    line("memorised (synthetic rows)", p$memorised_share)
    line("memorised (holdout reference)", p$memorised_share_holdout)
    line("membership-inference AUC", p$membership_auc)
  }
  for (n in x$notes) cat("  note:", n, "\n")
  invisible(x)
}

#' @rdname sv_compare
#' @param row.names,optional Unused (for the generic).
#' @export
as.data.frame.sv_compare <- function(x, row.names = NULL, optional = FALSE, ...) {
  cols <- x$fidelity$columns
  data.frame(
    column = vapply(cols, function(c) c$column, character(1)),
    metric = vapply(cols, function(c) c$metric, character(1)),
    score = vapply(cols, function(c) c$score, numeric(1)),
    stringsAsFactors = FALSE
  )
}

#' @rdname sv_compare
#' @param x An `sv_compare` object.
#' @param which `"columns"`: each column's distribution, real (grey) against synthetic (blue),
#'   like synthpop's `compare()`; `"correlations"`: the heat map of the absolute differences
#'   between the real and synthetic correlations.
#' @export
plot.sv_compare <- function(x, which = c("columns", "correlations"), ...) {
  which <- match.arg(which)
  if (which == "columns") {
    d <- x$plots$distributions
    k <- length(d)
    if (!k) return(invisible(x))
    old <- graphics::par(mfrow = grDevices::n2mfrow(min(k, 16)), mar = c(3, 3, 2, 1))
    on.exit(graphics::par(old))
    for (c in utils::head(d, 16)) {
      real <- unlist(c$real)
      syn <- unlist(c$synthetic)
      graphics::barplot(rbind(real, syn), beside = TRUE, main = c$column,
                        col = c("grey40", "steelblue"), border = NA,
                        names.arg = unlist(c$labels) %||% rep("", length(real)))
    }
  } else {
    r <- x$plots$correlation_real
    s <- x$plots$correlation_synthetic
    if (is.null(r$values)) return(invisible(x))
    m <- abs(do.call(rbind, lapply(r$values, unlist)) - do.call(rbind, lapply(s$values, unlist)))
    labels <- unlist(r$columns)
    graphics::image(seq_len(ncol(m)), seq_len(nrow(m)), t(m)[, nrow(m):1], axes = FALSE,
                    col = grDevices::hcl.colors(20, "YlOrRd", rev = TRUE),
                    main = "|correlation real - synthetic|", xlab = "", ylab = "")
    graphics::axis(1, seq_along(labels), labels, las = 2, cex.axis = 0.7)
    graphics::axis(2, seq_along(labels), rev(labels), las = 2, cex.axis = 0.7)
  }
  invisible(x)
}
