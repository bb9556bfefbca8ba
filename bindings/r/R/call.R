# The glue's R half: conditions, requests as JSON, progress bars. No defaults or rules live
# here; arguments left NULL are left out of the request, and the engine fills them.

#' @useDynLib synthvol, .registration = TRUE
NULL

status_names <- c(
  "1" = "null", "2" = "invalid_argument", "3" = "data", "4" = "format", "5" = "io",
  "6" = "cancelled", "7" = "numerical", "8" = "utf8", "9" = "buffer_too_small",
  "10" = "panic", "11" = "device", "12" = "resources"
)

# Called by the C glue after a failed library call: an R error of class synthvol_error
# carrying the library's message and status.
sv_raise <- function(message, status) {
  code <- status_names[[as.character(status)]]
  if (is.null(code)) code <- "unknown"
  cond <- structure(
    class = c(paste0("synthvol_error_", code), "synthvol_error", "error", "condition"),
    list(message = message, call = NULL, status = status, code = code)
  )
  stop(cond)
}

# Called by the C glue after a call that Ctrl-C stopped: R's own interrupt, raised only once
# the library has returned.
sv_interrupted <- function() {
  cond <- structure(class = c("interrupt", "condition"), list(message = "interrupted", call = NULL))
  signalCondition(cond)
  invokeRestart("abort")
}

# An R-side argument error, as the same condition class.
sv_arg_error <- function(message) {
  sv_raise(message, 2L)
}

# A scalar option for the request: NULL is left out; NA and non-scalars are refused here
# (JSON has no NA); everything else is the engine's to check.
req_value <- function(name, value) {
  if (is.null(value)) return(NULL)
  if (is.factor(value)) value <- as.character(value)
  if (!is.atomic(value) || length(value) != 1L) {
    sv_arg_error(sprintf("argument '%s' must be a single value, got %s of length %d",
                         name, class(value)[1], length(value)))
  }
  if (is.na(value)) sv_arg_error(sprintf("argument '%s' is NA", name))
  value
}

# A request object (a named list) as JSON, dropping NULLs. Vector options named in
# `vectors` stay arrays; `verbatim` holds JSON text to insert as it is.
req_json <- function(args, vectors = character(), verbatim = list()) {
  out <- list()
  for (name in names(args)) {
    v <- args[[name]]
    if (is.null(v)) next
    if (name %in% vectors) {
      if (!is.atomic(v) || anyNA(v)) sv_arg_error(sprintf("argument '%s' must be a vector without NA", name))
      out[[name]] <- I(v)
    } else {
      out[[name]] <- req_value(name, v)
    }
  }
  for (name in names(verbatim)) {
    if (!is.null(verbatim[[name]])) out[[name]] <- structure(verbatim[[name]], class = "json")
  }
  if (length(out) == 0L) return("{}")
  as.character(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, json_verbatim = TRUE))
}

from_json <- function(text) jsonlite::fromJSON(text, simplifyVector = FALSE)

# The progress argument as the function the C glue calls: TRUE shows a text progress bar,
# FALSE nothing, a function(stage, done, total, loss) is called as it is.
progress_fn <- function(progress) {
  if (is.function(progress)) return(progress)
  if (!isTRUE(progress)) return(NULL)
  bar <- NULL
  current <- ""
  function(stage, done, total, loss) {
    if (is.null(bar) || !identical(stage, current)) {
      if (!is.null(bar)) close(bar)
      bar <<- utils::txtProgressBar(min = 0, max = max(total, 1), style = 3)
      current <<- stage
    }
    utils::setTxtProgressBar(bar, done)
    if (done >= total) {
      close(bar)
      bar <<- NULL
    }
  }
}

# A seed for the engine: NULL takes one from R's random number generator (so set.seed()
# decides it, as R users expect of simulate()); otherwise a whole number from 0 to 2^53.
seed_value <- function(seed) {
  if (is.null(seed)) return(floor(stats::runif(1) * 2^31))
  seed <- req_value("seed", seed)
  if (!is.numeric(seed) || seed < 0 || seed != floor(seed) || seed > 2^53) {
    sv_arg_error(sprintf("argument 'seed' must be a whole number from 0 to 2^53, got %s", format(seed)))
  }
  seed
}

# Called by the C glue from the library's callbacks: the caller's function, with its errors
# caught here (a caught error is returned as a string, and the call is then stopped).
guarded <- function(f, ...) {
  tryCatch({ f(...); NULL }, error = function(e) conditionMessage(e))
}

guarded_analysis <- function(f, convert, train, valid) {
  tryCatch({
    e <- f(convert(train), convert(valid))
    if (!is.numeric(e) || length(e) != 1L) "the analysis must return one number (the error to minimise)" else as.double(e)
  }, error = function(e) conditionMessage(e))
}

emit_notices <- function(notices) {
  for (n in notices) message(n)
}
