library(testthat)
library(synthvol)
test_check("synthvol")
