//! Adapters: implementations of the traits that the engine and the domain define.
//! `store::sqlite` is the embedded default run store.

pub mod store;
