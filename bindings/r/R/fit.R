#' Fit a synthesizer to a data frame
#'
#' Learns `data` with a tabular diffusion model (TabDDPM) and returns a model that generates
#' synthetic rows of the same shape and column classes. Every argument left `NULL` takes the
#' engine's default (shown in brackets); the engine checks every value and names the option
#' at fault when one is wrong.
#'
#' @param data A data frame. Columns may be numeric, integer, logical, factor, ordered
#'   factor, character (modelled as categorical, returned as character), Date or POSIXct;
#'   `NA` is learned as a value of its own (never dropped).
#' @param target A column name. A categorical target conditions generation (labels are drawn
#'   from its class frequencies); a numeric one is learned like the other columns.
#' @param steps Training steps \[without DP: 500 epochs of `data`, at most 4000; private
#'   fits 4000\]. With `epochs` (in `...`) the most steps.
#' @param batch_size Rows per step \[1024, capped at the number of rows\].
#' @param layers Widths of the denoiser's hidden layers \[`c(512, 512)`; a fit
#'   without DP on fewer than 8192 rows: `c(256, 256)`, or `c(64, 64)` when those rows
#'   have at most 12 numeric values and levels\].
#' @param timesteps Diffusion steps \[200; private fits 20\].
#' @param lr Initial learning rate, decayed linearly to 0 \[0.002\].
#' @param seed Seed \[0\]: the same seed gives the same model (a private fit's noise aside).
#' @param threads Threads \[0: all cores\].
#' @param epsilon Fit under (epsilon, delta)-differential privacy with respect to one row
#'   (needs `schema`).
#' @param delta The delta of a private fit \[1e-5\].
#' @param schema The public schema: an object from [sv_schema()], the path of a schema
#'   file, or its JSON text. Required for a private fit; without `epsilon` it declares level
#'   sets and bounds.
#' @param device `"auto"`, `"cpu"` or `"cuda:N"` \[`"auto"`\].
#' @param progress `TRUE` for a progress bar, `FALSE` for none, or a
#'   `function(stage, done, total, loss)`. Ctrl-C stops the fit within a step.
#' @param ... Other options of the fit request by name: `time_dim`, `weight_decay`, `precision`
#'   (`"input"`, the default: numbers at the training values' decimals; `"full"`),
#'   `smoothing` (without DP: the bandwidth of one smoothed copy of each row trained on
#'   beside it, 0 to 10 \[0, none\]),
#'   `ema_rate`, `holdout` (share of the rows held out to choose the steps by early
#'   stopping \[0, off\]), `epochs` (steps from passes over the rows, at most `steps`
#'   \[500 without DP\]; not for a private fit), and for private fits `max_grad_norm`, `sample_rate`, `augment`,
#'   `preprocessing_share`, `categorical_weight`, `calibrate` (match the level frequencies
#'   to noisy counts after training \[FALSE\]), `quantile_map` (map the numeric output onto
#'   the noisy quantiles after training, post-processing \[TRUE\]), `pair_share` (with a
#'   categorical target: the share of epsilon spent on the target's pair counts with every
#'   other column, which sampling rakes to \[0.4 below 10,000 rows, else 0\]), `noise_seed`
#'   (test only).
#' @return An `sv_model`.
#' @seealso [sv_sample()], [sv_fine_tune()], [sv_compare()], [sv_save()]
#' @examples
#' adult <- sv_adult()
#' m <- sv_fit(adult$train[1:500, ], target = "income", steps = 30, layers = c(32, 32),
#'             timesteps = 10, progress = FALSE)
#' m
#' head(sv_sample(m, 5, seed = 1))
#' @export
sv_fit <- function(data, target = NULL, steps = NULL, batch_size = NULL, layers = NULL,
                   timesteps = NULL, lr = NULL, seed = NULL, threads = NULL, epsilon = NULL,
                   delta = NULL, schema = NULL, device = NULL, progress = interactive(), ...) {
  conv <- to_columns(data)
  args <- c(list(target = target, steps = steps, batch_size = batch_size, layers = layers,
                 timesteps = timesteps, lr = lr, seed = seed, threads = threads,
                 epsilon = epsilon, delta = delta, device = device), list(...))
  annotations <- as.character(jsonlite::toJSON(list(r = list(columns = conv$meta)),
                                               auto_unbox = TRUE, digits = NA))
  json <- req_json(args, vectors = "layers",
                   verbatim = list(schema = schema_text(schema), annotations = annotations))
  res <- .Call(C_fit, conv$columns, json, progress_fn(progress))
  emit_notices(res[[2]])
  new_model(res[[1]], conv$meta)
}

#' Fine-tune a model on new rows
#'
#' Continues training a (pre-trained) model on `data`, matched by column name and level
#' label: the Syn workflow's "fine-tune on the small sensitive sample". The network, the
#' diffusion steps, the target and the column classes are the model's. With `epsilon` the
#' guarantee covers the rows of `data` (the pre-training data are treated as public).
#'
#' @inheritParams sv_fit
#' @param model An `sv_model`.
#' @param steps Fine-tuning steps \[without DP: 200 epochs of `data`, at most 1000; under DP
#'   1000\].
#' @param lr Initial learning rate \[0.001\].
#' @param ... Other options of the fit request by name (`weight_decay`, `ema_rate`, `epochs`
#'   (steps from passes over `data`, at most `steps`), `holdout` (early stopping),
#'   `trainable` (`"all"`, `"head"` or `"biases"`: the parameters trained, the others kept
#'   as pre-trained; default `"all"`, `"biases"` under DP), `calibrate` (match the level
#'   frequencies to the rows' counts after training, noisy counts under DP; default `TRUE`
#'   under DP), and for private fine-tunings `max_grad_norm`, `sample_rate`, `augment`,
#'   `preprocessing_share` (default 0.7 when calibrating), `categorical_weight`,
#'   `noise_seed`).
#' @return A new `sv_model`; `model` is unchanged.
#' @examples
#' adult <- sv_adult()
#' men <- adult$train[adult$train$sex == "Male", ][1:500, ]
#' women <- adult$train[adult$train$sex == "Female", ][1:200, ]
#' pre <- sv_fit(men, target = "income", steps = 30, layers = c(32, 32), timesteps = 10,
#'               schema = sv_schema(adult$train), progress = FALSE)
#' tuned <- sv_fine_tune(pre, women, steps = 20, progress = FALSE)
#' tuned
#' @export
sv_fine_tune <- function(model, data, steps = NULL, batch_size = NULL, lr = NULL, seed = NULL,
                         threads = NULL, epsilon = NULL, delta = NULL, device = NULL,
                         progress = interactive(), ...) {
  check_model(model)
  conv <- to_columns(data)
  args <- c(list(steps = steps, batch_size = batch_size, lr = lr, seed = seed,
                 threads = threads, epsilon = epsilon, delta = delta, device = device),
            list(...))
  res <- .Call(C_fine_tune, handle(model), conv$columns, req_json(args), progress_fn(progress))
  emit_notices(res[[2]])
  new_model(res[[1]], model$meta)
}

# The schema argument as JSON text (or NULL).
schema_text <- function(schema) {
  if (is.null(schema)) return(NULL)
  if (inherits(schema, "sv_schema")) return(schema$json)
  if (is.character(schema) && length(schema) == 1L && !is.na(schema)) {
    if (file.exists(schema)) return(paste(readLines(schema, warn = FALSE, encoding = "UTF-8"), collapse = "\n"))
    return(schema)
  }
  sv_arg_error("'schema' must be an sv_schema object (from sv_schema()), a schema file's path or its JSON text")
}
