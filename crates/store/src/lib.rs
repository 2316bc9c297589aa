//! ferromq storage engine.
