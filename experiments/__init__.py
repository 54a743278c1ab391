"""One script per study; each is a thin call into the library."""
