//! The contract interfaces the daemon reads and decodes: `sol!` bindings generated from the
//! ABIs in `abis/` (Safe 1.4.1 and 1.3.0, OpenZeppelin Governor, TimelockController,
//! AccessControl, Ownable, ERC-20, Compound's GovernorBravo). Types only; the chain readers call
//! them and the decoder decodes with them.
#![allow(clippy::too_many_arguments)]

/// Safe 1.4.1 (SafeL2), all functions and events.
pub mod v141 {
    alloy::sol!(
        #[allow(missing_docs)]
        #[derive(Debug)]
        SafeL2,
        "abis/SafeL2-1.4.1.json"
    );
}
/// Safe 1.3.0 (GnosisSafeL2) events: fewer indexed parameters.
pub mod v130 {
    alloy::sol!(
        #[allow(missing_docs)]
        #[derive(Debug)]
        GnosisSafeL2,
        "abis/SafeL2-1.3.0-events.json"
    );
}
/// OpenZeppelin Governor, TimelockController, AccessControl, Ownable, ERC-20, and
/// Compound's GovernorBravo / Timelock events where they differ.
pub mod gov {
    alloy::sol!("abis/governance.sol");
}
