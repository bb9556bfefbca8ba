test_that("every column class crosses into the library and back unchanged", {
  d <- all_types()
  conv <- synthvol:::to_columns(d)
  back <- synthvol:::from_columns(.Call(synthvol:::C_roundtrip, conv$columns), conv$meta)
  expect_identical(names(back), names(d))
  for (n in names(d)) {
    expect_identical(class(back[[n]]), class(d[[n]]), info = n)
    expect_equal(back[[n]], d[[n]], info = n)
  }
  expect_identical(levels(back$f), c("c", "b", "a", "unused"))
  expect_identical(attr(back$ct, "tzone"), "Europe/Oslo")
})

test_that("a fitted model generates the same classes, levels and about the same NA rates", {
  d <- all_types(600)
  m <- quick(d, steps = 200)
  s <- sv_sample(m, 3000, seed = 3)
  expect_identical(names(s), names(d))
  for (n in names(d)) expect_identical(class(s[[n]]), class(d[[n]]), info = n)
  expect_identical(levels(s$f), levels(d$f))
  expect_identical(levels(s$o), levels(d$o))
  expect_true(is.ordered(s$o))
  expect_identical(attr(s$ct, "tzone"), "Europe/Oslo")
  expect_true(all(s$i[!is.na(s$i)] == round(s$i[!is.na(s$i)])))
  expect_true(all(s$ch %in% c("x", "y", NA)))
  for (n in names(d)) {
    expect_lt(abs(mean(is.na(s[[n]])) - mean(is.na(d[[n]]))), 0.08, label = n)
  }
})

test_that("1,000,000 rows of 15 columns cross into the engine and back", {
  n <- 1e6
  set.seed(2)
  d <- data.frame(lapply(1:10, function(j) stats::rnorm(n)))
  names(d) <- paste0("x", 1:10)
  for (j in 1:5) d[[paste0("f", j)]] <- factor(sample(letters[1:5], n, TRUE))
  t <- system.time({
    conv <- synthvol:::to_columns(d)
    back <- synthvol:::from_columns(.Call(synthvol:::C_roundtrip, conv$columns), conv$meta)
  })
  expect_equal(back, d)
  message(sprintf("1e6 x 15 round trip: %.2f s", t[["elapsed"]]))
})
