"""Carbon accounting (GHG Protocol scopes 1-3), life cycle assessment and the daily report."""
