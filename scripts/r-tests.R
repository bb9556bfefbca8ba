# Runs the R package's testthat suite against the installed package and ends with the line
# "N passed, N failed" (the exit status is non-zero on any failure).
library(testthat)
library(synthvol)
res <- as.data.frame(test_dir("bindings/r/tests/testthat", reporter = "summary",
                              stop_on_failure = FALSE, package = "synthvol", load_package = "installed"))
passed <- sum(res$passed)
failed <- sum(res$failed) + sum(res$error)
cat(sprintf("%d passed, %d failed\n", passed, failed))
quit(status = if (failed > 0) 1 else 0)
