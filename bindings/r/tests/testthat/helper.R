# Small, fast settings for tests (the defaults are for real data).
quick <- function(data, ..., steps = 30, layers = c(32, 32), timesteps = 10, progress = FALSE) {
  sv_fit(data, ..., steps = steps, layers = layers, timesteps = timesteps, threads = 2,
         progress = progress)
}

adult <- local({
  a <- NULL
  function() {
    if (is.null(a)) a <<- sv_adult()
    a
  }
})

# A data frame with every supported column class and missing values in each.
all_types <- function(n = 400, seed = 1) {
  set.seed(seed)
  na <- function(x, p = 0.1) { x[stats::runif(length(x)) < p] <- NA; x }
  data.frame(
    f = na(factor(sample(c("a", "b", "c"), n, TRUE), levels = c("c", "b", "a", "unused"))),
    o = na(factor(sample(c("low", "mid", "high"), n, TRUE), levels = c("low", "mid", "high"), ordered = TRUE)),
    l = na(stats::runif(n) > 0.3),
    ch = na(sample(c("x", "y"), n, TRUE)),
    i = na(sample(1:20, n, TRUE)),
    d = na(stats::rnorm(n, 50, 10)),
    dt = na(as.Date("2020-01-01") + sample(0:365, n, TRUE)),
    ct = na(as.POSIXct("2021-06-01 12:00:00", tz = "Europe/Oslo") + sample(0:86400, n, TRUE)),
    stringsAsFactors = FALSE
  )
}
