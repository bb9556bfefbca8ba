# Every bad input is an R error of class synthvol_error naming the problem; the session lives on.

expect_sv_error <- function(expr, pattern) {
  e <- tryCatch({ expr; NULL }, error = function(e) e)
  expect_s3_class(e, "synthvol_error")
  expect_match(conditionMessage(e), pattern)
}

test_that("bad data are refused with the reason", {
  a <- adult()$train[1:200, ]
  expect_sv_error(sv_fit(as.matrix(a)), "must be a data.frame")
  expect_sv_error(sv_fit(a[0, ]), "0 row")
  expect_sv_error(sv_fit(a[, 0]), "no columns")
  expect_sv_error(sv_fit(a, target = "nope"), "no column 'nope'")
  one <- a
  one$y <- factor("only")
  expect_sv_error(sv_fit(one, target = "y"), "one class")
  allna <- a
  allna$z <- NA_real_
  expect_sv_error(sv_fit(allna), "missing in every row")
  lst <- a
  lst$l <- I(as.list(seq_len(nrow(a))))
  expect_sv_error(sv_fit(lst), "column 'l' is a list column")
  inf <- a
  inf$age[3] <- Inf
  expect_sv_error(sv_fit(inf), "column 'age', row 3: value inf is not finite")
  cx <- a
  cx$c <- complex(real = 1:200)
  expect_sv_error(sv_fit(cx), "column 'c' has class 'complex'")
})

test_that("every option is checked by the engine, which names it", {
  a <- adult()$train[1:200, ]
  expect_sv_error(sv_fit(a, steps = "abc"), "option 'steps'")
  expect_sv_error(sv_fit(a, steps = 0), "option 'steps' must be at least 1")
  expect_sv_error(sv_fit(a, steps = 1.5), "option 'steps'")
  expect_sv_error(sv_fit(a, steps = NA), "argument 'steps' is NA")
  expect_sv_error(sv_fit(a, steps = c(1, 2)), "argument 'steps' must be a single value")
  expect_sv_error(sv_fit(a, epsilon = -1), "option 'epsilon' must be positive")
  expect_sv_error(sv_fit(a, epsilon = 1), "needs a public schema")
  expect_sv_error(sv_fit(a, batch_size = 0), "option 'batch_size' must be at least 1")
  expect_sv_error(sv_fit(a, layers = numeric()), "option 'layers'")
  expect_sv_error(sv_fit(a, device = "cuda"), "device .cuda:0. was asked for, but")
  expect_sv_error(sv_fit(a, bogus = 3), "unknown field `bogus`")
  expect_sv_error(sv_fit(a, delta = 0.1), "option 'delta' applies to private fits only")
  expect_sv_error(sv_fit(a, schema = 42), "'schema' must be")
})

test_that("bad sampling requests and bad models are refused", {
  m <- quick(adult()$train[1:300, ], target = "income")
  expect_sv_error(sv_sample(m, 0), "at least 1")
  expect_sv_error(sv_sample(m, -5), "at least 1")
  expect_sv_error(sv_sample(m, 2.5), "whole number")
  expect_sv_error(sv_sample(m, 10, labels = rep("rich", 10)), "'rich' is not a class")
  expect_sv_error(sv_sample(m, 10, labels = c("a", "b")), "give one per row")
  expect_sv_error(sv_sample(m, 10, labels = "a"), "'a' is not a class")
  expect_sv_error(sv_sample(m, 1e12), "needs about")
  expect_sv_error(sv_sample(list(), 5), "must be an sv_model")
  broken <- m
  broken$handle <- new("externalptr")
  broken$bytes <- raw(0)
  expect_sv_error(sv_sample(broken, 5), "neither a live handle nor its bytes")
  expect_sv_error(sv_model_from_bytes(as.raw(1:50)), "not a synthvol model")
  expect_sv_error(sv_model_from_bytes("x"), "raw vector")
  expect_sv_error(sv_load(tempfile()), "No such file")
  f <- tempfile()
  writeBin(as.raw(sample(0:255, 500, TRUE)), f)
  expect_sv_error(sv_load(f), "not a synthvol model")
  # The session lives on.
  expect_s3_class(sv_sample(m, 2, seed = 1), "data.frame")
})
