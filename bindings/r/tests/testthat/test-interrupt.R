test_that("progress reaches R, and a failing progress function stops the fit cleanly", {
  d <- adult()$train[1:300, ]
  seen <- 0
  m <- quick(d, progress = function(stage, done, total, loss) seen <<- max(seen, done))
  expect_equal(seen, 30)
  e <- tryCatch(quick(d, steps = 1e6, progress = function(...) stop("enough")), error = function(e) e)
  expect_match(conditionMessage(e), "progress function failed")
  # The session and the library are fine afterwards.
  expect_s3_class(quick(d, steps = 5), "sv_model")
})

test_that("SIGINT (Ctrl-C) ends a long fit within 2 seconds", {
  skip_if_not_installed("processx")
  skip_on_os("windows")
  script <- tempfile(fileext = ".R")
  writeLines(c(
    sprintf(".libPaths(c(%s, .libPaths()))", deparse(.libPaths()[1])),
    "library(synthvol)",
    "d <- sv_adult()$train[1:2000, ]",
    "r <- tryCatch(sv_fit(d, steps = 1e7, layers = 64, progress = FALSE), interrupt = function(e) 'caught')",
    "cat('after:', r, '\\n')"
  ), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  p <- processx::process$new(rscript, script, stdout = "|", stderr = "|")
  on.exit(p$kill(), add = TRUE)
  Sys.sleep(4) # loading, reading the data, starting the fit
  expect_true(p$is_alive())
  t0 <- Sys.time()
  p$interrupt()
  p$wait(10000)
  elapsed <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  expect_false(p$is_alive())
  expect_lt(elapsed, 2)
  expect_match(p$read_all_output(), "after: caught")
})
