//! The integration test binary: drives the real `systrade` binary on temporary homes.
//! One binary with modules (see Cargo.toml `[[test]]`), so the crate links once.

mod support;
