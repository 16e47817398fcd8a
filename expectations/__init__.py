"""Great Expectations suites as code, one module per raw table family."""
