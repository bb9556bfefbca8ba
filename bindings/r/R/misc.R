#' What a model spent under differential privacy, or epsilon for a plan
#'
#' With a model: its fit's privacy record (epsilon, delta, the noise multiplier sigma,
#' the sampling rate q, the steps, the clipping norm C, the preprocessing spend, the
#' accountant) and one per fine-tuning. With a plan (`sample_rate`, `noise_multiplier`,
#' `steps`): epsilon of DP-SGD at `delta` by the Renyi accountant.
#'
#' @param model An `sv_model`, or `NULL` for a plan.
#' @param sample_rate,noise_multiplier,steps A DP-SGD plan.
#' @param delta The plan's delta \[1e-5\].
#' @return For a model, an `sv_privacy` list (printable); for a plan, epsilon.
#' @examples
#' sv_privacy(sample_rate = 0.01, noise_multiplier = 1, steps = 1000)
#' m <- sv_fit(sv_adult()$train[1:300, ], steps = 10, layers = 16, timesteps = 5,
#'             progress = FALSE)
#' sv_privacy(m)
#' @export
sv_privacy <- function(model = NULL, sample_rate = NULL, noise_multiplier = NULL, steps = NULL,
                       delta = NULL) {
  if (!is.null(model)) {
    p <- from_json(.Call(C_model_privacy, handle(model)))
    return(structure(p, class = "sv_privacy"))
  }
  if (is.null(sample_rate) || is.null(noise_multiplier) || is.null(steps)) {
    sv_arg_error("give a model, or a plan: sample_rate, noise_multiplier and steps")
  }
  # The C ABI takes delta as a number; 0 asks for the engine's default.
  .Call(C_privacy_epsilon, req_value("sample_rate", sample_rate),
        req_value("noise_multiplier", noise_multiplier), req_value("steps", steps),
        if (is.null(delta)) 0 else req_value("delta", delta))
}

#' @rdname sv_privacy
#' @param x An `sv_privacy` object.
#' @param ... Unused.
#' @export
print.sv_privacy <- function(x, ...) {
  show <- function(what, p) {
    if (is.null(p)) {
      cat(what, ": without differential privacy (no guarantee for those rows)\n", sep = "")
      return(invisible())
    }
    cat(sprintf("%s: (%.4f, %g)-differentially private with respect to one row (budget %g)\n",
                what, p$epsilon, p$delta, p$epsilon_budget))
    cat(sprintf("  DP-SGD: sigma = %.4f, q = %.5f, %d steps, C = %g; preprocessing epsilon %.4f\n",
                p$noise_multiplier, p$sample_rate, p$steps, p$max_grad_norm, p$preprocessing_epsilon))
    cat(sprintf("  noise: %s; %s\n", p$noise_source, paste(unlist(p$notes), collapse = "; ")))
  }
  if (isFALSE(x$private)) show("fit", NULL) else show("fit", x)
  for (i in seq_along(x$fine_tuning)) {
    f <- x$fine_tuning[[i]]
    show(sprintf("fine-tuning %d on %d rows", i, f$rows), f$privacy)
  }
  invisible(x)
}

#' The public schema of a data frame
#'
#' Each column's kind, level set (categorical), observed bounds and integer flag (numeric),
#' and whether it has missing values: what a private fit may know without looking at the
#' private rows. It is read off the data, so under differential privacy it is not yet
#' public: review it and replace what is not public knowledge (documented level lists,
#' round documented ranges) before a private fit. `sv_schema("adult")` is the bundled Adult
#' data's.
#'
#' @param data A data frame, or the name of a bundled data set's schema (`"adult"`).
#' @param path Also write the schema file (JSON) here.
#' @return An `sv_schema` object: `$json` (the file's text) and `$columns` (as a list).
#' @examples
#' s <- sv_schema(sv_adult()$train)
#' s
#' @export
sv_schema <- function(data, path = NULL) {
  json <- if (is.character(data) && length(data) == 1L) {
    .Call(C_dataset_schema, data)
  } else {
    .Call(C_table_schema, to_columns(data)$columns)
  }
  if (!is.null(path)) writeLines(json, req_value("path", path), useBytes = TRUE)
  structure(list(json = json, columns = from_json(json)$columns), class = "sv_schema")
}

#' @export
print.sv_schema <- function(x, ...) {
  cat(sprintf("<sv_schema> %d columns\n", length(x$columns)))
  for (c in x$columns) {
    desc <- if (identical(c$kind, "numeric")) {
      sprintf("numeric%s in [%g, %g]", if (isTRUE(c$integer)) " (integer)" else "", c$min, c$max)
    } else {
      sprintf("categorical, %d levels", length(c$levels))
    }
    cat(sprintf("  %-20s %s%s\n", c$name, desc, if (isTRUE(c$missing)) ", may be missing" else ""))
  }
  invisible(x)
}

#' The bundled Adult data
#'
#' The Adult data set (Becker, B. and Kohavi, R. (1996). Adult. UCI Machine Learning
#' Repository. https://doi.org/10.24432/C5XW20, CC BY 4.0): 32,561 training and 16,281 test
#' rows of 15 columns; the target is `income`.
#'
#' @return `list(train = , test = )`, two data frames.
#' @examples
#' adult <- sv_adult()
#' dim(adult$train)
#' @export
sv_adult <- function() {
  list(train = from_columns(.Call(C_dataset, "adult_train")),
       test = from_columns(.Call(C_dataset, "adult_test")))
}

#' Library version
#'
#' @return The synthvol library's version.
#' @examples
#' sv_version()
#' @export
sv_version <- function() .Call(C_version)

.onLoad <- function(libname, pkgname) {
  lib <- .Call(C_abi_version)
  header <- .Call(C_header_abi_version)
  if (!identical(lib, header)) {
    stop(sprintf("the synthvol library has C ABI %d but this package was built for ABI %d: reinstall the package",
                 lib, header), call. = FALSE)
  }
}
