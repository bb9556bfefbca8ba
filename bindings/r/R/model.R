# The sv_model object: an external pointer to the library's model, the model's bytes (so
# that saveRDS/serialize keep it: the pointer itself is not saved, and is rebuilt from the
# bytes the first time a loaded model is used), its description and the R column classes.

new_model <- function(xp, meta = NULL) {
  bytes <- .Call(C_model_to_bytes, xp)
  info <- from_json(.Call(C_model_info, xp))
  structure(list(handle = xp, bytes = bytes, info = info,
                 meta = meta %||% model_meta(info)),
            class = "sv_model")
}

check_model <- function(model) {
  if (!inherits(model, "sv_model")) {
    sv_arg_error(sprintf("'model' must be an sv_model (from sv_fit, sv_fine_tune or sv_load), not %s",
                         class(model)[1]))
  }
  if (!is.raw(model$bytes) || length(model$bytes) == 0L) {
    if (isTRUE(.Call(C_model_is_null, model$handle))) {
      sv_arg_error("this sv_model has neither a live handle nor its bytes: it cannot be used")
    }
  }
  invisible(model)
}

# The live handle, rebuilt from the bytes after readRDS/unserialize.
handle <- function(model) {
  check_model(model)
  if (isTRUE(.Call(C_model_is_null, model$handle))) {
    xp <- model$handle
    if (typeof(xp) != "externalptr") xp <- NULL
    return(.Call(C_model_from_bytes, model$bytes, xp))
  }
  model$handle
}

#' Save and load models
#'
#' `sv_save()` writes a model file (the format of `synthvol fit`, readable by the command
#' line, the C library and the Julia package); `sv_load()` reads one. Models also survive
#' [saveRDS()]/[readRDS()] and [serialize()]: they carry their bytes.
#'
#' @param model An `sv_model`.
#' @param path A file path.
#' @return `sv_save()` returns `path` invisibly; `sv_load()` an `sv_model`.
#' @examples
#' m <- sv_fit(sv_adult()$train[1:300, ], steps = 10, layers = 16, timesteps = 5,
#'             progress = FALSE)
#' f <- tempfile(fileext = ".svmodel")
#' sv_save(m, f)
#' m2 <- sv_load(f)
#' identical(sv_sample(m, 5, seed = 1), sv_sample(m2, 5, seed = 1))
#' @export
sv_save <- function(model, path) {
  path <- req_value("path", path)
  .Call(C_model_save, handle(model), path.expand(path))
  invisible(path)
}

#' @rdname sv_save
#' @export
sv_load <- function(path) {
  path <- req_value("path", path)
  new_model(.Call(C_model_load, path.expand(path)))
}

#' Read a model from its bytes
#'
#' @param bytes A raw vector, as [sv_model_bytes()] or a model file holds.
#' @return An `sv_model`; bytes that are not a model are an error of class
#'   `synthvol_error`.
#' @examples
#' m <- sv_fit(sv_adult()$train[1:300, ], steps = 10, layers = 16, timesteps = 5,
#'             progress = FALSE)
#' m2 <- sv_model_from_bytes(sv_model_bytes(m))
#' @export
sv_model_from_bytes <- function(bytes) {
  if (!is.raw(bytes)) sv_arg_error("'bytes' must be a raw vector")
  new_model(.Call(C_model_from_bytes, bytes, NULL))
}

#' @rdname sv_model_from_bytes
#' @param model An `sv_model`.
#' @export
sv_model_bytes <- function(model) {
  check_model(model)
  model$bytes
}

#' Print, summarise and plot a model
#'
#' `print()` says what was learned: rows, columns, the target, training steps and final
#' loss, the backend, and for a private model the (epsilon, delta) spent. `summary()` gives a
#' table of the columns. `plot()` draws the training loss.
#'
#' @param x,object An `sv_model`.
#' @param ... Unused.
#' @return `print()` returns `x` invisibly; `summary()` a data frame with class
#'   `sv_model_summary`.
#' @examples
#' m <- sv_fit(sv_adult()$train[1:300, ], target = "income", steps = 20, layers = 16,
#'             timesteps = 5, progress = FALSE)
#' print(m)
#' summary(m)
#' plot(m)
#' @export
print.sv_model <- function(x, ...) {
  t <- x$info$training
  o <- t$options
  cat("<sv_model> synthvol", x$info$versions$library, "\n")
  cat(sprintf("  learned from %d rows, %d columns%s\n", t$n_rows, length(x$info$schema),
              if (is.null(x$info$target)) "" else sprintf("; target '%s'", x$info$target)))
  loss <- t$loss_history
  last <- if (length(loss)) sprintf(", final loss %.4f", loss[[length(loss)]][[2]]) else ""
  cat(sprintf("  %d steps, batch %d, layers %s, T = %d on %s in %.1f s%s\n", o$optim$steps,
              o$optim$batch_size, paste(unlist(o$layers), collapse = ","), o$timesteps,
              t$backend, t$seconds, last))
  if (!is.null(t$privacy)) {
    p <- t$privacy
    cat(sprintf("  (%.4f, %g)-differentially private with respect to one row (budget %g)\n",
                p$epsilon, p$delta, p$epsilon_budget))
  }
  for (f in t$fine_tuning) {
    cat(sprintf("  fine-tuned on %d rows%s\n", f$n_rows,
                if (is.null(f$privacy)) "" else sprintf(" under (%.4f, %g)-DP", f$privacy$epsilon, f$privacy$delta)))
  }
  invisible(x)
}

#' @rdname print.sv_model
#' @export
summary.sv_model <- function(object, ...) {
  meta <- list()
  for (m in object$meta) meta[[m$name]] <- m
  rows <- lapply(object$info$schema, function(c) {
    lv <- unlist(c$levels)
    data.frame(
      column = c$name,
      kind = c$kind,
      r_class = meta[[c$name]]$class %||% NA_character_,
      integer = if (identical(c$kind, "numeric")) isTRUE(c$integer) else NA,
      levels = if (is.null(lv)) NA_integer_ else length(lv),
      level_labels = if (is.null(lv)) NA_character_ else paste(utils::head(lv, 6), collapse = ", "),
      stringsAsFactors = FALSE
    )
  })
  out <- do.call(rbind, rows)
  structure(out, class = c("sv_model_summary", "data.frame"))
}

#' @export
print.sv_model_summary <- function(x, ...) {
  print(structure(x, class = "data.frame"), row.names = FALSE)
  invisible(x)
}

#' @rdname print.sv_model
#' @export
plot.sv_model <- function(x, ...) {
  h <- x$info$training$loss_history
  if (!length(h)) {
    graphics::plot.new()
    graphics::title(main = "no loss history (a private fit does not keep one)")
    return(invisible(x))
  }
  step <- vapply(h, function(p) p[[1]], numeric(1))
  loss <- vapply(h, function(p) p[[2]], numeric(1))
  graphics::plot(step, loss, type = "l", xlab = "training step", ylab = "loss",
                 main = "synthvol: training loss", ...)
  invisible(x)
}
