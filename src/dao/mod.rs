//! EIP-4824 (daoURI), the ecosystem's common description of a DAO, both ways: a group's
//! documents built from what the store holds ([`documents`]), and a manifest skeleton made from
//! a DAO's daoURI document, with every gap the standard cannot fill listed ([`import`]).
//!
//! Invariant: pure — values in, JSON or a manifest draft out; no network (a URI the document
//! only points at is a gap, never fetched).

pub mod documents;
pub mod import;

/// The JSON-LD context every document names.
pub const CONTEXT: &str = "http://www.daostar.org/schemas";
