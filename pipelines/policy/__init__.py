"""Policy caps: campus events judged against versioned rules, and the breach cases they open."""
