#' Generate synthetic rows
#'
#' `sv_sample()` draws `n` rows from a model as a data frame with the training data's
#' columns, column classes and factor levels. Rows are made in fixed blocks keyed by the
#' seed, so the same seed gives the identical data frame whatever `batch_size` or `threads`,
#' and the rows `start`, `start + 1`, ... of a sample are the same whatever range asks for
#' them (shards of a large volume, for example one per Slurm array task or Spark
#' partition, concatenate to one run's rows; [sv_shard()] gives a shard's range).
#' `simulate()` is the same through the stats generic.
#'
#' @param model,object An `sv_model`.
#' @param n,nsim Number of rows.
#' @param seed Seed. `NULL` draws one from R's random number generator, so [set.seed()]
#'   makes the call reproducible.
#' @param labels For a model conditioned on a categorical target: the target's value for
#'   each row (a vector of length `n`, or one value for every row), instead of draws from
#'   the training frequencies. A private model with target pairs rakes drawn rows to them;
#'   rows of given labels come as the network makes them.
#' @param start The number of the first row (0 for the start of the sample).
#' @param threads Threads \[0: all cores\].
#' @param batch_size Rows denoised together (speed and memory only) \[4096\].
#' @param device `"auto"`, `"cpu"` or `"cuda:N"` \[`"auto"`\].
#' @param progress As in [sv_fit()].
#' @param ... Unused.
#' @return A data frame of `n` rows.
#' @examples
#' m <- sv_fit(sv_adult()$train[1:500, ], target = "income", steps = 20, layers = 16,
#'             timesteps = 5, progress = FALSE)
#' s <- sv_sample(m, 100, seed = 7)
#' table(s$income)
#' # Given labels:
#' rich <- sv_sample(m, 10, seed = 7, labels = rep(">50K", 10))
#' # Two halves of a sample are the sample:
#' all <- sv_sample(m, 100, seed = 7)
#' tail <- sv_sample(m, 50, seed = 7, start = 50)
#' identical(all[51:100, ], `rownames<-`(tail, 51:100))
#' set.seed(1); s2 <- simulate(m, nsim = 10)
#' @export
sv_sample <- function(model, n, seed = NULL, labels = NULL, start = 0, threads = NULL,
                      batch_size = NULL, device = NULL, progress = interactive()) {
  xp <- handle(model)
  n <- req_value("n", n)
  if (!is.numeric(n) || n != floor(n) || n < 1) {
    sv_arg_error(sprintf("'n' must be a whole number of at least 1, got %s", format(n)))
  }
  start <- req_value("start", start)
  seed <- seed_value(seed)
  opts <- list(threads = threads, batch_size = batch_size, device = device)
  if (!is.null(labels) && length(labels) == 1 && n > 1) {
    if (is.na(labels)) sv_arg_error("'labels' is NA")
    opts$label <- as.character(labels)
  } else if (!is.null(labels)) {
    if (length(labels) != n) {
      sv_arg_error(sprintf("'labels' has %d values for %s rows; give one per row", length(labels), format(n)))
    }
    if (anyNA(labels)) sv_arg_error("'labels' has NA values")
    opts$labels <- as.character(labels)
  }
  json <- req_json(opts, vectors = "labels")
  cols <- .Call(C_sample, xp, start, n, seed, json, progress_fn(progress))
  from_columns(cols, model$meta)
}

#' @rdname sv_sample
#' @importFrom stats simulate
#' @export
simulate.sv_model <- function(object, nsim = 1, seed = NULL, ...) {
  sv_sample(object, nsim, seed = seed, progress = FALSE)
}

#' The rows of one shard of a sample
#'
#' Shard `i` of `k` of a sample of `rows` rows starts at row `floor(i * rows / k)` and ends
#' before `floor((i + 1) * rows / k)`: the shards 0 to `k - 1` cover the rows once, in order,
#' so that `k` processes (a Slurm job array, `sparklyr::spark_apply` over shard numbers)
#' make exactly the rows of one run.
#'
#' @param rows Rows of the whole sample.
#' @param i The shard, from 0 to `k - 1`.
#' @param k Number of shards.
#' @return `c(start = , count = )` for [sv_sample()].
#' @examples
#' sv_shard(1000, 2, 7)
#' @export
sv_shard <- function(rows, i, k) {
  .Call(C_shard_range, req_value("rows", rows), req_value("i", i), req_value("k", k))
}
