"""Cascade: keywords in, articles ready for review out, through seven tracked stages."""
