"""sipp scenarios for the registrar tests and benchmark, and a small runner."""
