//! A real local chain for the demo, the tests and the benchmarks: an anvil process with the
//! Safe 1.4.1 and 1.3.0 contracts deployed from their published build artifacts, and helpers to
//! create Safes, execute owner-signed Safe transactions and pay many Safes at once.
//!
//! Nothing here is mocked: anvil and the contracts come from the npm packages pinned in the
//! project's `package.json`, installed by [`Devnet::start`] on first use.
//!
//! - [`anvil`]: [`Devnet`], the process, its dev accounts and raw test RPCs (mine, reorg,
//!   snapshot/revert, automine).
//! - [`safe`]: [`SafeContracts`] (deployment, Safe creation) and `eth_call` readers.
//! - [`safe_tx`]: [`SafeTx`], signing (ECDSA or `eth_sign`) and `execTransaction`, and the owner,
//!   threshold, module, guard and fallback-handler changes built on it.
//! - [`fund`]: single and bulk (`MultiSendCallOnly`) payments.
//! - [`keys`]: deterministic owner keys.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use groupstate::devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
//! let chain = Devnet::start(DevnetOptions::default()).await?;
//! let contracts = SafeContracts::deploy(&chain).await?;
//! let owners = devnet::signers(3);
//! let addresses: Vec<_> = owners.iter().map(|o| o.address()).collect();
//! let safe = contracts.create_safe(&chain, SafeVersion::V141L2, &addresses, 2, 0).await?;
//! devnet::add_owner_with_threshold(&chain, safe, devnet::signer(9).address(), 2, &[&owners[0], &owners[1]]).await?;
//! # Ok(()) }
//! ```

pub mod anvil;
pub mod bindings;
pub mod fund;
pub mod install;
pub mod keys;
pub mod safe;
pub mod safe_tx;

pub use anvil::{Devnet, DevnetOptions};
pub use fund::{fund, fund_many, FUND_CHUNK};
pub use keys::{signer, signers};
pub use safe::{
    read_modules, read_nonce, read_owners, read_threshold, read_version, SafeContracts,
    SafeVersion, SENTINEL,
};
pub use safe_tx::{
    add_owner_with_threshold, change_threshold, disable_module, enable_module, exec_transaction,
    remove_owner, set_fallback_handler, set_guard, sign_safe_hash, swap_owner, SafeTx,
    SignatureKind, CALL, DELEGATE_CALL,
};
