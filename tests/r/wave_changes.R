# Oracle for marts.wave_changes: the two waves stacked in one design, strata league x
# school_level, schools as PSUs across both waves (nest = TRUE), each wave post-stratified
# (post-strata wave x stratum); the domain's two wave estimates with their covariance, then
# svycontrast(later - earlier).
# Input: respondents.csv (with wave, stratum, poststratum), population.csv (poststratum, Freq),
# metrics.csv (metric, kind, numerator, denominator), areas.csv (area_level, area_code, column).
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
dir <- commandArgs(trailingOnly = TRUE)[1]
d <- read.csv(file.path(dir, "respondents.csv"), colClasses = c(wave = "character", stratum = "character",
              poststratum = "character", school = "character", county_code = "character",
              league_code = "character", region_code = "character"))
pop <- read.csv(file.path(dir, "population.csv"), colClasses = c(poststratum = "character"))
metrics <- read.csv(file.path(dir, "metrics.csv"), colClasses = "character")
areas <- read.csv(file.path(dir, "areas.csv"), colClasses = "character")
design <- postStratify(svydesign(ids = ~school, strata = ~stratum, data = d, nest = TRUE), ~poststratum, pop)
waves <- sort(unique(d$wave))
rows <- list()
for (a in seq_len(nrow(areas))) {
  in_area <- d[[areas$column[a]]] == areas$area_code[a]
  for (k in seq_len(nrow(metrics))) {
    num <- metrics$numerator[k]
    den <- metrics$denominator[k]
    keep <- in_area & !is.na(d[[num]]) & (den == "" | !is.na(d[[if (den == "") num else den]]))
    if (any(table(factor(d$wave[keep], levels = waves)) < 2)) next
    sub <- design[keep, ]
    # Domain x wave estimates as ratios of indicator-masked totals on the whole design: the
    # same estimator as svyby(~y, ~wave, covmat = TRUE) on the domain, whose covmat
    # bookkeeping fails in survey 4.1.1 on subsets of a post-stratified design.
    for (w in 1:2) {
      mask <- keep & d$wave == waves[w]
      design$variables[[paste0("y", w)]] <- ifelse(mask, d[[num]], 0)
      design$variables[[paste0("x", w)]] <- if (den == "") as.numeric(mask) else ifelse(mask, d[[den]], 0)
    }
    r <- svyratio(~y1 + y2, ~x1 + x2, design, covmat = TRUE)
    weights <- setNames(rep(0, length(coef(r))), names(coef(r)))
    weights["y2/x2"] <- 1
    weights["y1/x1"] <- -1
    change <- svycontrast(r, weights)
    rows[[length(rows) + 1]] <- data.frame(area_level = areas$area_level[a], area_code = areas$area_code[a],
      metric = metrics$metric[k], r_change = as.numeric(coef(change)), r_se = as.numeric(SE(change)),
      r_df = degf(sub))
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "out.csv"), row.names = FALSE)
