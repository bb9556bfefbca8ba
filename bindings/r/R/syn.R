#' Tune the synthetic volume
#'
#' Generational-effect tuning (Shen, Liu & Shen 2023): for each ratio rho, an analysis is
#' trained on m = rho * n synthetic rows (n = rows of `train`) and scored on `valid`, over
#' `repeats` generations; the m with the lowest mean validation error is chosen. Keep test
#' rows out of `valid`: they are for the final assessment at the chosen m.
#'
#' @param model An `sv_model` (typically fine-tuned on `train`).
#' @param train The raw rows the model learned from.
#' @param valid Validation rows, apart from `train` and from any test rows.
#' @param target The analysis target (for the built-in analysis: logistic regression scored
#'   by the misclassification rate for a categorical target, least squares by RMSE for a
#'   numeric one).
#' @param ratios The ratios rho \[1, 2, ..., 30\].
#' @param analysis `NULL` or `"linear"` for the built-in logistic regression or least
#'   squares, `"boosting"` for built-in gradient-boosted trees (the paper's SynBoost), or an R
#'   `function(train, valid)` that fits on the data frame `train` and returns the error to
#'   minimise on `valid`.
#' @param label For a model conditioned on a group column (fitted with that column as
#'   `target` on related and target rows together): draw every synthetic row with this level.
#' @param repeats Generations per ratio \[3\].
#' @param with_raw Train on the raw rows together with the synthetic ones \[FALSE\].
#' @param seed,threads,device As in [sv_sample()] (`seed` \[0\]).
#' @param progress As in [sv_fit()].
#' @return An `sv_tune` object: the curve (`points`), the chosen ratio and m, the raw-only
#'   error, with `print()` and `plot()` methods.
#' @examples
#' adult <- sv_adult()
#' m <- sv_fit(adult$train[1:600, ], target = "income", steps = 30, layers = 16,
#'             timesteps = 5, progress = FALSE)
#' tr <- adult$train[1:600, ]
#' va <- adult$train[601:900, ]
#' r <- sv_tune(m, tr, va, "income", ratios = c(1, 2), repeats = 1, progress = FALSE)
#' r
#' # Any R analysis:
#' err <- function(train, valid) {
#'   fit <- glm(I(income == ">50K") ~ age + education_num, data = train, family = binomial)
#'   mean((predict(fit, valid, type = "response") > 0.5) != (valid$income == ">50K"))
#' }
#' r2 <- sv_tune(m, tr, va, ratios = c(1, 2), repeats = 1, analysis = err, progress = FALSE)
#' plot(r2)
#' @export
sv_tune <- function(model, train, valid, target = NULL, ratios = NULL, analysis = NULL,
                    repeats = NULL, with_raw = NULL, seed = NULL, threads = NULL, device = NULL,
                    label = NULL, progress = interactive()) {
  xp <- handle(model)
  kind <- NULL
  if (is.character(analysis) && length(analysis) == 1 && !is.na(analysis)) {
    kind <- analysis
    analysis <- NULL
  }
  if (!is.null(analysis) && !is.function(analysis)) {
    sv_arg_error("'analysis' must be \"linear\", \"boosting\" or a function(train, valid) returning the error to minimise")
  }
  json <- req_json(list(ratios = ratios, repeats = repeats, with_raw = with_raw, seed = seed,
                        threads = threads, device = device, analysis = kind, label = label),
                   vectors = "ratios")
  meta <- model$meta
  convert <- function(cols) from_columns(cols, meta)
  if (!is.null(target)) target <- req_value("target", target)
  res <- .Call(C_tune, xp, to_columns(train, "train")$columns, to_columns(valid, "valid")$columns,
               target, json, analysis, convert, progress_fn(progress))
  structure(from_json(res), class = "sv_tune")
}

#' @rdname sv_tune
#' @param x An `sv_tune` object.
#' @param ... Unused.
#' @export
print.sv_tune <- function(x, ...) {
  cat(sprintf("generational-effect tuning: validation %s (%d raw rows, %d validation rows, %d generation(s) per ratio)\n",
              x$error_metric, x$n_raw, x$validation_rows, x$repeats))
  cat(sprintf("  raw rows only     %.4f\n", x$raw_only_error))
  for (p in x$points) {
    cat(sprintf("  rho = %-6g m = %-8d %.4f +- %.4f%s\n", p$ratio, p$m, p$error, p$error_sd,
                if (p$ratio == x$chosen_ratio) "  <- chosen" else ""))
  }
  cat(sprintf("chosen: rho = %g, m = %d synthetic rows\n", x$chosen_ratio, x$chosen_m))
  if (isTRUE(x$raw_only_better)) {
    cat("note: the raw rows alone score better than every synthetic volume tried\n")
  }
  invisible(x)
}

#' @rdname sv_tune
#' @export
plot.sv_tune <- function(x, ...) {
  ratio <- vapply(x$points, function(p) p$ratio, numeric(1))
  err <- vapply(x$points, function(p) p$error, numeric(1))
  sd <- vapply(x$points, function(p) p$error_sd, numeric(1))
  graphics::plot(ratio, err, type = "b", pch = 19, ylim = range(c(err - sd, err + sd, x$raw_only_error)),
                 xlab = "rho = m / n", ylab = paste("validation", x$error_metric),
                 main = "synthvol: generational effect", ...)
  graphics::segments(ratio, err - sd, ratio, err + sd, col = "grey50")
  graphics::abline(h = x$raw_only_error, lty = 2)
  graphics::abline(v = x$chosen_ratio, col = "steelblue")
  invisible(x)
}

#' Inference on synthetic rows with corrected standard errors
#'
#' Fits least squares (numeric target) or logistic regression (two-class target) on each of
#' M syntheses of k rows and combines them with synthpop's population-inference variance
#' T = v * (k / n + 1 / M): synthetic rows drawn from n real rows carry no more information
#' than those rows, so standard errors computed as if they were real are about
#' sqrt(M k / n) times too small. Both are reported side by side.
#'
#' @param syntheses A list of data frames of the same size (or one data frame).
#' @param target The target column.
#' @param real_rows How many real rows the generator learned from (n).
#' @return An `sv_infer` object with `print()` and `as.data.frame()` methods.
#' @examples
#' m <- sv_fit(sv_adult()$train[1:500, ], steps = 20, layers = 16, timesteps = 5,
#'             progress = FALSE)
#' s <- lapply(1:2, function(i) sv_sample(m, 1000, seed = i)[, c("age", "hours_per_week", "sex")])
#' r <- sv_infer(s, "hours_per_week", real_rows = 500)
#' r
#' @export
sv_infer <- function(syntheses, target, real_rows) {
  if (is.data.frame(syntheses)) syntheses <- list(syntheses)
  if (!is.list(syntheses) || !length(syntheses)) {
    sv_arg_error("'syntheses' must be a data frame or a list of data frames")
  }
  tables <- lapply(seq_along(syntheses), function(i) {
    to_columns(syntheses[[i]], sprintf("syntheses[[%d]]", i))$columns
  })
  res <- .Call(C_infer, tables, req_value("target", target), req_value("real_rows", real_rows))
  structure(from_json(res), class = "sv_infer")
}

#' @rdname sv_infer
#' @param x An `sv_infer` object.
#' @param ... Unused.
#' @export
print.sv_infer <- function(x, ...) {
  cat(sprintf("%s of '%s' on %d synthesis/syntheses of %d rows from %d real rows\n", x$model,
              x$target, x$syntheses, x$rows_per_synthesis, x$real_rows))
  print(as.data.frame(x), row.names = FALSE, digits = 5)
  cat(sprintf("corrected SE = naive SE x %.2f (synthpop's population inference)\n", x$inflation))
  if (!is.null(x$warning)) cat("warning:", x$warning, "\n")
  invisible(x)
}

#' @rdname sv_infer
#' @param row.names,optional Unused (for the generic).
#' @export
as.data.frame.sv_infer <- function(x, row.names = NULL, optional = FALSE, ...) {
  data.frame(
    term = vapply(x$coefficients, function(c) c$term, character(1)),
    estimate = vapply(x$coefficients, function(c) c$estimate, numeric(1)),
    se_naive = vapply(x$coefficients, function(c) c$se_naive, numeric(1)),
    se_corrected = vapply(x$coefficients, function(c) c$se_corrected, numeric(1)),
    stringsAsFactors = FALSE
  )
}

#' Syn-Test: are features irrelevant to the target?
#'
#' Syn-Test (Shen, Liu & Shen 2023) of the hypothesis that `features` are irrelevant to
#' `target` given the other columns: twin generators are fine-tuned from `model` on halves of
#' `data`, prediction models with and without the features are fitted on `train` (real rows
#' kept apart; without them on one twin's synthetic rows), and the synthetic volume is chosen
#' where the estimated Type-I error stays below `alpha`.
#'
#' @param model A pre-trained `sv_model`.
#' @param data The inference rows.
#' @param target,features The target and the tested features (column names).
#' @param train Real rows kept apart from `data`, or `NULL`.
#' @param ratios Ratios rho \[0.1, 0.25, 0.5, 1, 2, 3, 5, 10\].
#' @param mc Monte Carlo chunks per ratio \[100\].
#' @param alpha Level \[0.05\].
#' @param steps Fine-tuning steps of each twin \[1000\].
#' @param seed,threads,device As in [sv_fit()].
#' @param progress As in [sv_fit()].
#' @return The result as a list (`synthvol test --json`): the Type-I curve (`points`), the
#'   chosen ratio, the p-value and the decision (`reject`).
#' @examples
#' \donttest{
#' adult <- sv_adult()
#' pre <- sv_fit(adult$train[1:1000, ], steps = 50, layers = 32, timesteps = 10,
#'               progress = FALSE)
#' r <- sv_syn_test(pre, adult$train[1001:1200, ], "hours_per_week", "age",
#'                  ratios = c(0.5, 1), mc = 30, alpha = 0.2, steps = 20, progress = FALSE)
#' r$reject
#' }
#' @export
sv_syn_test <- function(model, data, target, features, train = NULL, ratios = NULL, mc = NULL,
                        alpha = NULL, steps = NULL, seed = NULL, threads = NULL, device = NULL,
                        progress = interactive()) {
  xp <- handle(model)
  ft <- req_json(list(steps = steps, threads = threads, device = device))
  json <- req_json(list(target = target, features = features, ratios = ratios, mc = mc,
                        alpha = alpha, seed = seed), vectors = c("features", "ratios"),
                   verbatim = list(fine_tune = ft))
  tr <- if (is.null(train)) NULL else to_columns(train, "train")$columns
  res <- .Call(C_syn_test, xp, to_columns(data)$columns, tr, json, progress_fn(progress))
  from_json(res)
}
