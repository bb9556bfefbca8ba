test_that("the Syn workflow runs from R: pre-train, fine-tune, compare, tune with an R analysis, infer", {
  a <- adult()
  men <- a$train[a$train$sex == "Male", ][1:800, ]
  women <- a$train[a$train$sex == "Female", ]
  small <- women[1:300, ]
  valid <- women[301:500, ]
  pre <- quick(men, target = "income", schema = sv_schema("adult"))
  tuned <- sv_fine_tune(pre, small, steps = 20, progress = FALSE)
  expect_equal(length(tuned$info$training$fine_tuning), 1)
  s <- sv_sample(tuned, 300, seed = 1)
  expect_true(all(levels(s$sex) == c("Female", "Male")))
  # A partial, calibrated fine-tuning through `...`: the record says what trained.
  part <- sv_fine_tune(pre, small, steps = 5, trainable = "head", calibrate = TRUE,
                       progress = FALSE)
  ft <- part$info$training$fine_tuning[[1]]
  expect_identical(ft$options$optim$trainable, "head")
  expect_true(ft$trained_parameters[[1]] < ft$trained_parameters[[2]])
  expect_true(mean(sv_sample(part, 500, seed = 2)$sex == "Female") > 0.9)
  expect_error(sv_fine_tune(pre, small, steps = 5, trainable = "lora", progress = FALSE),
               "all, head, biases")

  r <- sv_compare(small, s, holdout = valid, target = "income", wasserstein_rows = 100,
                  progress = FALSE)
  expect_s3_class(r, "sv_compare")
  expect_output(print(r), "mean column score")
  cols <- as.data.frame(r)
  expect_identical(cols$column, names(a$train))
  pdf(NULL)
  plot(r)
  plot(r, "correlations")
  dev.off()

  calls <- 0
  err <- function(train, valid) {
    calls <<- calls + 1
    expect_s3_class(train$income, "factor")
    fit <- stats::glm(I(income == ">50K") ~ age + education_num, data = train, family = binomial)
    mean((stats::predict(fit, valid, type = "response") > 0.5) != (valid$income == ">50K"))
  }
  tr <- sv_tune(tuned, small, valid, ratios = c(1, 2), repeats = 1, analysis = err, progress = FALSE)
  expect_s3_class(tr, "sv_tune")
  expect_equal(calls, 3)
  expect_true(tr$chosen_m %in% c(300, 600))
  expect_output(print(tr), "chosen: rho")
  pdf(NULL)
  plot(tr)
  dev.off()
  builtin <- sv_tune(tuned, small, valid, "income", ratios = 1, repeats = 1, progress = FALSE)
  expect_identical(builtin$error_metric, "misclassification rate")
  boosted <- sv_tune(tuned, small, valid, "income", ratios = 1, repeats = 1,
                     analysis = "boosting", progress = FALSE)
  expect_identical(boosted$error_metric, "misclassification rate")
  expect_true(boosted$raw_only_error >= 0 && boosted$raw_only_error < 0.5)
  e <- tryCatch(sv_tune(tuned, small, valid, "income", ratios = 1, repeats = 1,
                        analysis = "forest", progress = FALSE), error = function(e) e)
  expect_match(conditionMessage(e), "unknown analysis 'forest'")
  # One label for every row.
  rich <- sv_sample(tuned, 50, seed = 3, labels = ">50K")
  expect_true(all(rich$income == ">50K"))
  # An analysis that fails is an error with its message; one that returns junk too.
  e <- tryCatch(sv_tune(tuned, small, valid, ratios = 1, repeats = 1, progress = FALSE,
                        analysis = function(t, v) stop("my model broke")), error = function(e) e)
  expect_match(conditionMessage(e), "my model broke")
  e <- tryCatch(sv_tune(tuned, small, valid, ratios = 1, repeats = 1, progress = FALSE,
                        analysis = function(t, v) "x"), error = function(e) e)
  expect_match(conditionMessage(e), "one number")

  syn <- lapply(1:2, function(i) sv_sample(tuned, 400, seed = i)[, c("age", "hours_per_week", "sex")])
  inf <- sv_infer(syn, "hours_per_week", real_rows = 300)
  d <- as.data.frame(inf)
  expect_true(all(d$se_corrected > d$se_naive))
  expect_output(print(inf), "corrected SE")
})

test_that("private fits report their spend; schemas and plans", {
  a <- adult()
  sch <- sv_schema(a$train[1:300, ])
  expect_s3_class(sch, "sv_schema")
  expect_output(print(sch), "15 columns")
  f <- tempfile(fileext = ".json")
  sv_schema(a$train[1:300, ], path = f)
  expect_true(file.exists(f))
  m <- quick(a$train[1:300, ], target = "income", epsilon = 1, schema = f, noise_seed = 3)
  p <- sv_privacy(m)
  expect_lte(p$epsilon, 1)
  expect_output(print(p), "differentially private")
  expect_output(print(m), "differentially private")
  eps <- sv_privacy(sample_rate = 0.01, noise_multiplier = 1, steps = 1000)
  expect_equal(eps, 2.1014, tolerance = 1e-3)
  expect_error(sv_privacy(sample_rate = 0.01, noise_multiplier = 1e-300, steps = 10), "infinite")
})

test_that("Syn-Test runs from R", {
  a <- adult()
  pre <- quick(a$train[1:600, ])
  r <- sv_syn_test(pre, a$train[601:800, ], "hours_per_week", "age", ratios = c(0.5, 1), mc = 8,
                   alpha = 0.5, steps = 5, progress = FALSE)
  expect_true(is.logical(r$reject))
  expect_length(r$points, 2)
})
