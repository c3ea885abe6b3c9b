//! Wire formats every layer shares, at the bottom of the crate: RESP ([`resp`]) and TCP's
//! flag bits ([`tcp`]). They depend on nothing else in respscope, so sources, analysis,
//! engine and views can all use them without an import running back up the data flow.

pub mod resp;
pub mod tcp;
