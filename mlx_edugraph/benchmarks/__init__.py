"""Speed measured against the naive path: labeling, servers, conversion; random-weight proxies
of the real shapes and a page's arithmetic."""
