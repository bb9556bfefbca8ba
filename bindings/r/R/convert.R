# Data frames to the library's columns and back, with the R classes kept. Numeric columns
# cross as doubles (NA as NaN, the library's missing value); factors, ordered factors,
# logicals and character vectors as integer codes with their level labels (unused factor
# levels kept, in order); Date and POSIXct as numbers, their class and time zone restored.

supported_classes <- c("factor", "ordered", "logical", "character", "integer", "double",
                       "Date", "POSIXct")

# The kind of R column `x` is, or an error naming it.
column_class <- function(x, name) {
  if (is.ordered(x)) return("ordered")
  if (is.factor(x)) return("factor")
  if (inherits(x, "Date")) return("Date")
  if (inherits(x, "POSIXct")) return("POSIXct")
  if (inherits(x, "POSIXlt")) {
    sv_arg_error(sprintf("column '%s' is POSIXlt; convert it with as.POSIXct()", name))
  }
  if (is.list(x) || !is.null(dim(x))) {
    sv_arg_error(sprintf("column '%s' is a %s column, which synthvol cannot model; give a plain vector",
                         name, if (is.list(x)) "list" else "matrix"))
  }
  cls <- class(x)[1]
  if (is.logical(x)) return("logical")
  if (is.character(x)) return("character")
  if (is.integer(x) && cls == "integer") return("integer")
  if (is.double(x) && cls == "numeric") return("double")
  sv_arg_error(sprintf("column '%s' has class '%s', which synthvol cannot model (supported: %s)",
                       name, paste(class(x), collapse = "/"), paste(supported_classes, collapse = ", ")))
}

# The columns of data frame `df` for the C glue, and each column's R metadata.
to_columns <- function(df, what = "data") {
  if (!is.data.frame(df)) {
    sv_arg_error(sprintf("'%s' must be a data.frame, not %s", what, class(df)[1]))
  }
  nms <- names(df)
  if (anyDuplicated(nms)) {
    sv_arg_error(sprintf("'%s' has the column name '%s' twice", what, nms[anyDuplicated(nms)]))
  }
  cols <- vector("list", length(df))
  meta <- vector("list", length(df))
  for (j in seq_along(df)) {
    x <- df[[j]]
    name <- nms[j]
    cls <- column_class(x, name)
    m <- list(name = name, class = cls)
    if (cls %in% c("factor", "ordered")) {
      lv <- levels(x)
      cols[[j]] <- list(name, as.integer(unclass(x)), "categorical", FALSE, lv)
      m$levels <- I(lv)
    } else if (cls == "logical") {
      cols[[j]] <- list(name, as.integer(x) + 1L, "categorical", FALSE, c("FALSE", "TRUE"))
    } else if (cls == "character") {
      lv <- sort(unique(x[!is.na(x)]))
      cols[[j]] <- list(name, match(x, lv), "categorical", FALSE, lv)
    } else {
      v <- as.double(unclass(x))
      whole <- cls %in% c("integer", "Date") || {
        ok <- v[is.finite(v)]
        length(ok) > 0 && all(ok == floor(ok))
      }
      if (cls == "POSIXct") m$tz <- attr(x, "tzone") %||% ""
      cols[[j]] <- list(name, v, "numeric", whole, NULL)
    }
    meta[[j]] <- m
  }
  list(columns = cols, meta = meta)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# A data frame from the C glue's columns, each restored to its R class by `meta` (a list of
# the fitted data's column metadata; a column without any gets the library's kind: factor,
# integer or double).
from_columns <- function(cols, meta = NULL) {
  by_name <- list()
  for (m in meta) by_name[[m$name]] <- m
  out <- lapply(names(cols), function(name) {
    v <- cols[[name]]
    m <- by_name[[name]]
    lv <- attr(v, "levels")
    cls <- if (!is.null(m)) m$class else if (!is.null(lv)) "factor" else if (isTRUE(attr(v, "integer"))) "integer" else "double"
    attributes(v) <- NULL
    switch(cls,
      factor = structure(v, levels = lv, class = "factor"),
      ordered = structure(v, levels = lv, class = c("ordered", "factor")),
      logical = lv[v] == "TRUE",
      character = lv[v],
      integer = as.integer(round(v)),
      double = v,
      Date = structure(round(v), class = "Date"),
      POSIXct = structure(v, class = c("POSIXct", "POSIXt"), tzone = m$tz %||% ""),
      v
    )
  })
  names(out) <- names(cols)
  list2DF(out)
}

# The R metadata a model keeps (the "r" annotation), or NULL for a model fitted elsewhere.
model_meta <- function(info) {
  cols <- info$training$annotations$r$columns
  if (is.null(cols)) return(NULL)
  lapply(cols, function(m) {
    m$levels <- unlist(m$levels)
    m
  })
}
