# Oracle for marts.area_metrics: R survey on the post-stratified design, strata = league x
# school_level, PSUs = schools (nest = TRUE), population = the strata's teacher totals.
# Input (in the directory given as the argument): respondents.csv, population.csv,
# metrics.csv (metric, kind, numerator, denominator), areas.csv (area_level, area_code, column).
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
dir <- commandArgs(trailingOnly = TRUE)[1]
d <- read.csv(file.path(dir, "respondents.csv"), colClasses = c(stratum = "character", school = "character",
              county_code = "character", league_code = "character", region_code = "character"))
pop <- read.csv(file.path(dir, "population.csv"), colClasses = c(stratum = "character"))
metrics <- read.csv(file.path(dir, "metrics.csv"), colClasses = "character")
areas <- read.csv(file.path(dir, "areas.csv"), colClasses = "character")
design <- postStratify(svydesign(ids = ~school, strata = ~stratum, data = d, nest = TRUE), ~stratum, pop)
rows <- list()
for (a in seq_len(nrow(areas))) {
  in_area <- d[[areas$column[a]]] == areas$area_code[a]
  for (k in seq_len(nrow(metrics))) {
    num <- metrics$numerator[k]
    den <- metrics$denominator[k]
    keep <- in_area & !is.na(d[[num]]) & (den == "" | !is.na(d[[if (den == "") num else den]]))
    if (sum(keep) < 2) next
    sub <- design[keep, ]
    df <- degf(sub)
    deff <- NA
    if (den != "") {
      r <- svyratio(as.formula(paste0("~", num)), as.formula(paste0("~", den)), sub, na.rm = TRUE)
      est <- as.numeric(coef(r)); se <- as.numeric(SE(r))
    } else {
      m <- svymean(as.formula(paste0("~", num)), sub, na.rm = TRUE, deff = "replace")
      est <- as.numeric(coef(m)); se <- as.numeric(SE(m)); deff <- as.numeric(deff(m))
    }
    low <- NA; high <- NA
    if (df >= 1 && se > 0) {
      if (metrics$kind[k] == "proportion") {
        ci <- svyciprop(as.formula(paste0("~", num)), sub, method = "beta", na.rm = TRUE)
        low <- as.numeric(confint(ci))[1]; high <- as.numeric(confint(ci))[2]
      } else {
        low <- est - qt(0.975, df) * se; high <- est + qt(0.975, df) * se
      }
    }
    rows[[length(rows) + 1]] <- data.frame(area_level = areas$area_level[a], area_code = areas$area_code[a],
      metric = metrics$metric[k], r_n = sum(keep), r_estimate = est, r_se = se, r_df = df, r_deff = deff,
      r_ci_low = low, r_ci_high = high)
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "out.csv"), row.names = FALSE)
