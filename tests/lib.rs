//! Shared support for the end-to-end tests: building bundles, running the binaries, nginx.
