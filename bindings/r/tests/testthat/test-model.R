test_that("a fit prints, summarises, plots and samples reproducibly", {
  a <- adult()
  m <- quick(a$train[1:600, ], target = "income")
  expect_s3_class(m, "sv_model")
  out <- capture.output(print(m))
  expect_match(out[2], "learned from 600 rows, 15 columns; target 'income'")
  expect_match(paste(out, collapse = "\n"), "on cpu")
  s <- summary(m)
  expect_identical(s$column, names(a$train))
  expect_identical(s$r_class[s$column == "sex"], "factor")
  pdf(NULL)
  plot(m)
  dev.off()
  s1 <- sv_sample(m, 300, seed = 4)
  expect_identical(sv_sample(m, 300, seed = 4, batch_size = 7, threads = 1), s1)
  set.seed(9); r1 <- simulate(m, 20)
  set.seed(9); r2 <- simulate(m, 20)
  expect_identical(r1, r2)
  # A range is the same rows as the whole sample holds.
  part <- sv_sample(m, 100, seed = 4, start = 200)
  expect_equal(part, s1[201:300, ], ignore_attr = TRUE)
  sh <- sv_shard(300, 1, 3)
  expect_equal(unname(sh), c(100, 100))
})

test_that("models survive saveRDS, serialize, sv_save and their bytes", {
  a <- adult()
  m <- quick(a$train[1:400, ], target = "income")
  ref <- sv_sample(m, 50, seed = 1)
  f <- tempfile(fileext = ".rds")
  saveRDS(m, f)
  m2 <- readRDS(f)
  expect_identical(sv_sample(m2, 50, seed = 1), ref)
  m3 <- unserialize(serialize(m, NULL))
  expect_identical(sv_sample(m3, 50, seed = 1), ref)
  g <- tempfile(fileext = ".svmodel")
  sv_save(m, g)
  m4 <- sv_load(g)
  expect_identical(sv_sample(m4, 50, seed = 1), ref)
  m5 <- sv_model_from_bytes(sv_model_bytes(m))
  expect_identical(sv_sample(m5, 50, seed = 1), ref)
  expect_identical(summary(m4)$r_class, summary(m)$r_class)
})

test_that("the same seed gives the rows the command line gives for the same model", {
  cli <- Sys.getenv("SYNTHVOL_CLI")
  skip_if(cli == "" || !file.exists(cli), "SYNTHVOL_CLI does not name the synthvol binary")
  a <- adult()
  m <- quick(a$train[1:400, ], target = "income")
  g <- tempfile(fileext = ".svmodel")
  sv_save(m, g)
  csv <- tempfile(fileext = ".csv")
  status <- system2(cli, c("sample", "--model", g, "--rows", "80", "--seed", "11", "--out", csv),
                    stdout = FALSE, stderr = FALSE)
  expect_equal(status, 0)
  from_cli <- utils::read.csv(csv, stringsAsFactors = FALSE, na.strings = "")
  from_r <- sv_sample(m, 80, seed = 11)
  for (n in names(from_r)) {
    if (is.factor(from_r[[n]])) {
      expect_identical(as.character(from_r[[n]]), from_cli[[n]], info = n)
    } else {
      expect_equal(as.numeric(from_r[[n]]), as.numeric(from_cli[[n]]), info = n)
    }
  }
  # And a model the command line fitted loads in R.
  d <- tempfile(fileext = ".csv")
  utils::write.csv(a$train[1:300, ], d, row.names = FALSE)
  m2 <- tempfile(fileext = ".svmodel")
  system2(cli, c("fit", "--data", d, "--out", m2, "--steps", "10", "--layers", "16",
                 "--timesteps", "5"), stdout = FALSE, stderr = FALSE)
  loaded <- sv_load(m2)
  expect_s3_class(sv_sample(loaded, 10, seed = 1)$sex, "factor")
})

test_that("options pass through by name: smoothing is recorded, and checked by the engine", {
  a <- adult()
  m <- quick(a$train[1:300, ], target = "income", smoothing = 1.5)
  expect_equal(m$info$training$options$smoothing, 1.5)
  plain <- quick(a$train[1:300, ], target = "income")
  expect_null(plain$info$training$options$smoothing)
  expect_error(quick(a$train[1:300, ], smoothing = -1), "option 'smoothing'")
  expect_error(sv_fine_tune(m, a$train[301:400, ], steps = 5, smoothing = 1, progress = FALSE),
               "option 'smoothing' applies to a new fit")
})
