"""Tests of the sustainability package (carbon accounting, LCA, heat integration)."""
