//! A local node process — anvil, or Hardhat's `hardhat node` ([`NodeKind`]) — with its raw test
//! RPCs (mine, reorg, snapshot, balances, code, storage), and transactions sent from the node's
//! unlocked dev accounts.
//!
//! Both nodes serve the same dev accounts (anvil's mnemonic) and chain id, so a test written
//! against one runs against the other; where they differ (anvil's `anvil_*` methods against
//! Hardhat's `hardhat_*` ones, `anvil_reorg` which Hardhat lacks) the methods here say so and
//! pick the node's own call.
//!
//! Invariant: a [`Devnet`] owns its node process; dropping the `Devnet` kills it, so a test that
//! panics leaves nothing running.

use std::{
    collections::VecDeque,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    primitives::{Address, Bytes, TxHash, B256, U256},
    providers::{Provider, RootProvider},
    rpc::types::{BlockNumberOrTag, TransactionInput, TransactionReceipt, TransactionRequest},
};
use anyhow::{anyhow, bail, Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

use super::{hardhat, install};

/// How long the node may take to print its address and answer `eth_chainId`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many of the node's last output lines are kept for error messages.
const OUTPUT_TAIL_LINES: usize = 40;
/// The parameters of a call that takes none: `[]`. `()` would be sent as `"params": null`,
/// which anvil accepts and Hardhat refuses as an invalid request.
const NO_PARAMS: [(); 0] = [];

/// Which node implementation a [`Devnet`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeKind {
    /// Foundry's anvil, from `@foundry-rs/anvil-linux-amd64`.
    #[default]
    Anvil,
    /// Hardhat's `hardhat node` (Hardhat 2 on Node.js), from the `hardhat` npm package, with the
    /// crate's `hardhat.config.js`.
    Hardhat,
}

impl NodeKind {
    /// The node's name, for messages and test names.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Anvil => "anvil",
            NodeKind::Hardhat => "hardhat",
        }
    }

    /// The node's name for a test RPC that both nodes have under their own prefix, e.g.
    /// `setBalance` → `anvil_setBalance` or `hardhat_setBalance`.
    fn method(self, anvil: &'static str, hardhat: &'static str) -> &'static str {
        match self {
            NodeKind::Anvil => anvil,
            NodeKind::Hardhat => hardhat,
        }
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a [`Devnet`].
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// The node implementation (anvil unless set).
    pub node: NodeKind,
    /// Mine a block every this many seconds instead of one block per transaction.
    pub block_time: Option<f64>,
    /// Chain id (31337, both nodes' default, unless set).
    pub chain_id: u64,
    /// Block gas limit; the default (300M) lets bulk funding put many payments in one block.
    pub gas_limit: u64,
    /// Further arguments for the node (`anvil …` or `hardhat node …`), passed as they are.
    pub extra_args: Vec<String>,
}

impl Default for DevnetOptions {
    fn default() -> Self {
        Self {
            node: NodeKind::Anvil,
            block_time: None,
            chain_id: 31337,
            gas_limit: 300_000_000,
            extra_args: Vec::new(),
        }
    }
}

impl DevnetOptions {
    /// The default options on another node.
    pub fn on(node: NodeKind) -> Self {
        Self {
            node,
            ..Self::default()
        }
    }
}

/// A point to come back to with [`Devnet::reorg_to`]: a snapshot and the head it was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkPoint {
    snapshot: U256,
    head: u64,
}

impl ForkPoint {
    /// The head when the point was taken: the last block a reorg to it keeps.
    pub fn head(&self) -> u64 {
        self.head
    }
}

/// A running local chain (anvil or Hardhat) on `127.0.0.1`, with its funded, unlocked dev
/// accounts.
pub struct Devnet {
    child: Child,
    node: NodeKind,
    port: u16,
    chain_id: u64,
    block_time: Option<f64>,
    provider: RootProvider,
    accounts: Vec<Address>,
    project_dir: PathBuf,
    output: Arc<Mutex<VecDeque<String>>>,
    /// The `MultiSendCallOnly` that bulk funding calls, once one is deployed.
    pub(crate) multi_send: tokio::sync::Mutex<Option<Address>>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("node", &self.node)
            .field("port", &self.port)
            .field("chain_id", &self.chain_id)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Devnet {
    /// Installs the npm tooling if needed, starts the node on a free port and waits until it
    /// answers.
    #[tracing::instrument(skip_all, fields(node = %opts.node, chain_id = opts.chain_id))]
    pub async fn start(opts: DevnetOptions) -> Result<Devnet> {
        let project_dir = install::project_dir()?;
        install::ensure_installed(&project_dir).await?;
        let node = opts.node;

        let (mut cmd, program) = match node {
            NodeKind::Anvil => anvil_command(&project_dir, &opts),
            NodeKind::Hardhat => hardhat::command(&project_dir, &opts)?,
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", program.display()))?;

        // Both nodes may log every request; both pipes are drained for the life of the process
        // so it never blocks on a full pipe, and the last lines are kept for error messages.
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = oneshot::channel();
        let stdout = child.stdout.take().context("node stdout")?;
        let stderr = child.stderr.take().context("node stderr")?;
        let parse_port = match node {
            NodeKind::Anvil => parse_listening_port,
            NodeKind::Hardhat => hardhat::parse_started_port,
        };
        tokio::spawn(drain(stdout, output.clone(), Some((port_tx, parse_port))));
        tokio::spawn(drain(stderr, output.clone(), None));

        let port = match tokio::time::timeout(START_TIMEOUT, port_rx).await {
            Ok(Ok(port)) => port,
            _ => {
                let status = child.try_wait().ok().flatten();
                bail!(
                    "{node} did not report its address (exit status {status:?}); output:\n{}",
                    tail(&output)
                );
            }
        };
        let url = format!("http://127.0.0.1:{port}")
            .parse()
            .context("node url")?;
        let provider = RootProvider::new_http(url);

        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let chain_id = loop {
            match provider.get_chain_id().await {
                Ok(id) => break id,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return Err(anyhow!(e)).context(format!(
                        "{node} on port {port} never answered eth_chainId; output:\n{}",
                        tail(&output)
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        if chain_id != opts.chain_id {
            bail!(
                "{node} reports chain id {chain_id}, expected {}",
                opts.chain_id
            );
        }
        let accounts = provider
            .get_accounts()
            .await
            .with_context(|| format!("eth_accounts on {node}"))?;
        if accounts.is_empty() {
            bail!("{node} has no dev accounts");
        }
        tracing::debug!(%node, port, accounts = accounts.len(), "devnet node started");
        Ok(Devnet {
            child,
            node,
            port,
            chain_id,
            block_time: opts.block_time,
            provider,
            accounts,
            project_dir,
            output,
            multi_send: tokio::sync::Mutex::new(None),
        })
    }

    /// Which node this is.
    pub fn node(&self) -> NodeKind {
        self.node
    }

    /// The node process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The HTTP JSON-RPC endpoint, e.g. `http://127.0.0.1:40123`.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The WebSocket JSON-RPC endpoint (same port as HTTP).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The TCP port the node listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The chain id the node was started with.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// A provider over HTTP without fillers: transactions sent through it are filled (nonce,
    /// gas, fees) and signed by the node.
    pub fn http_provider(&self) -> RootProvider {
        self.provider.clone()
    }

    /// The node's funded, unlocked dev accounts (`eth_accounts`): anvil's ten on either node.
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// The dev account that deploys contracts and submits Safe transactions.
    pub fn dev_account(&self) -> Address {
        self.accounts[0]
    }

    /// The directory holding `package.json` and `node_modules`.
    pub fn project_dir(&self) -> &std::path::Path {
        &self.project_dir
    }

    /// The last lines the node printed, for diagnosing a failure.
    pub fn recent_output(&self) -> String {
        tail(&self.output)
    }

    /// Sends a JSON-RPC request and decodes its result.
    pub async fn raw<P, R>(&self, method: &'static str, params: P) -> Result<R>
    where
        P: serde::Serialize + Clone + std::fmt::Debug + Send + Sync + Unpin,
        R: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        self.provider
            .raw_request(method.into(), params)
            .await
            .with_context(|| format!("{method} on the devnet"))
    }

    /// Mines `n` blocks, each a real block linked to its parent: `anvil_mine` on anvil, `n`
    /// calls of `evm_mine` on Hardhat (whose `hardhat_mine` leaves placeholder blocks, see
    /// [`Devnet::fast_forward`]).
    pub async fn mine(&self, n: u64) -> Result<()> {
        match self.node {
            NodeKind::Anvil => {
                let _: serde_json::Value = self.raw("anvil_mine", (U256::from(n),)).await?;
            }
            NodeKind::Hardhat => {
                for _ in 0..n {
                    let _: serde_json::Value = self.raw("evm_mine", NO_PARAMS).await?;
                }
            }
        }
        Ok(())
    }

    /// Makes the chain `n` blocks taller as cheaply as the node can: `hardhat_mine` on Hardhat,
    /// which takes about as long for a million blocks as for ten; `anvil_mine` on anvil, whose
    /// cost grows quadratically with `n` (see [`super::proxy`] for a tall chain in front of
    /// anvil).
    ///
    /// On Hardhat the blocks between the first few and the last are reserved placeholders: each
    /// has a hash, but reports a zero `parentHash`. So a follower must not need to link them:
    /// keep the blocks it checks parent by parent (its reorg window below the head) above the
    /// stretch, by mining real blocks on top with [`Devnet::mine`] or transactions.
    pub async fn fast_forward(&self, n: u64) -> Result<()> {
        let method = self.node.method("anvil_mine", "hardhat_mine");
        let _: serde_json::Value = self.raw(method, (U256::from(n),)).await?;
        Ok(())
    }

    /// Replaces the last `depth` blocks with as many new empty blocks (`anvil_reorg`); the
    /// removed blocks' transactions are dropped. Anvil only: Hardhat has no such call, so
    /// tests that run on both nodes take a [`Devnet::fork_point`] before the blocks to replace
    /// and reorg with [`Devnet::reorg_to`].
    pub async fn reorg(&self, depth: u64) -> Result<()> {
        if self.node != NodeKind::Anvil {
            bail!(
                "{} has no anvil_reorg: take a fork_point before the blocks to replace and call reorg_to",
                self.node
            );
        }
        let _: serde_json::Value = self
            .raw("anvil_reorg", (depth, Vec::<serde_json::Value>::new()))
            .await?;
        Ok(())
    }

    /// Marks the current head as a point to reorg back to with [`Devnet::reorg_to`] (an
    /// `evm_snapshot`, which both nodes have).
    pub async fn fork_point(&self) -> Result<ForkPoint> {
        let head = self.head().await?;
        let snapshot = self.snapshot().await?;
        Ok(ForkPoint { snapshot, head })
    }

    /// A reorg on either node: every block mined since `point` is replaced by a new empty
    /// block, so the chain is as tall as before but forks right after `point`'s head, and the
    /// removed blocks' transactions are gone. Done as `evm_revert` to the point's snapshot, then
    /// mining as many blocks as were removed; the first new block is stamped one second after
    /// the block it replaces, so every replaced block gets a new hash even if it was empty.
    /// Returns the number of blocks replaced.
    pub async fn reorg_to(&self, point: ForkPoint) -> Result<u64> {
        let head = self.head().await?;
        let depth = head
            .checked_sub(point.head)
            .context("the chain is lower than the fork point")?;
        let replaced = match depth {
            0 => None,
            _ => Some(
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(point.head + 1))
                    .await
                    .context("eth_getBlockByNumber on the devnet")?
                    .context("the first block after the fork point is missing")?
                    .header
                    .timestamp,
            ),
        };
        if !self.revert(point.snapshot).await? {
            bail!("the devnet no longer has the fork point's snapshot");
        }
        if let Some(timestamp) = replaced {
            let _: serde_json::Value = self
                .raw("evm_setNextBlockTimestamp", (U256::from(timestamp + 1),))
                .await?;
            self.mine(depth).await?;
        }
        Ok(depth)
    }

    /// Takes a snapshot of the chain state (`evm_snapshot`); see [`Devnet::revert`].
    pub async fn snapshot(&self) -> Result<U256> {
        self.raw("evm_snapshot", NO_PARAMS).await
    }

    /// Reverts to a snapshot (`evm_revert`), removing every later block; false if the id is
    /// unknown.
    pub async fn revert(&self, id: U256) -> Result<bool> {
        self.raw("evm_revert", (id,)).await
    }

    /// Sets an account's balance in wei (`anvil_setBalance` / `hardhat_setBalance`).
    pub async fn set_balance(&self, account: Address, wei: U256) -> Result<()> {
        let method = self.node.method("anvil_setBalance", "hardhat_setBalance");
        let _: serde_json::Value = self.raw(method, (account, wei)).await?;
        Ok(())
    }

    /// Sets the runtime code at an address (`anvil_setCode` / `hardhat_setCode`).
    pub async fn set_code(&self, address: Address, code: impl Into<Bytes>) -> Result<()> {
        let method = self.node.method("anvil_setCode", "hardhat_setCode");
        let _: serde_json::Value = self.raw(method, (address, code.into())).await?;
        Ok(())
    }

    /// Writes one storage slot of a contract (`anvil_setStorageAt` / `hardhat_setStorageAt`).
    pub async fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> Result<()> {
        let method = self
            .node
            .method("anvil_setStorageAt", "hardhat_setStorageAt");
        let _: serde_json::Value = self.raw(method, (address, slot, value)).await?;
        Ok(())
    }

    /// Lets [`Devnet::send`] send from `account` without its key
    /// (`anvil_impersonateAccount` / `hardhat_impersonateAccount`).
    pub async fn impersonate(&self, account: Address) -> Result<()> {
        let method = self
            .node
            .method("anvil_impersonateAccount", "hardhat_impersonateAccount");
        let _: serde_json::Value = self.raw(method, (account,)).await?;
        Ok(())
    }

    /// Ends [`Devnet::impersonate`] (`anvil_stopImpersonatingAccount` /
    /// `hardhat_stopImpersonatingAccount`).
    pub async fn stop_impersonating(&self, account: Address) -> Result<()> {
        let method = self.node.method(
            "anvil_stopImpersonatingAccount",
            "hardhat_stopImpersonatingAccount",
        );
        let _: serde_json::Value = self.raw(method, (account,)).await?;
        Ok(())
    }

    /// Turns mining a block per transaction on or off (`evm_setAutomine`).
    pub async fn set_automine(&self, on: bool) -> Result<()> {
        let _: serde_json::Value = self.raw("evm_setAutomine", (on,)).await?;
        Ok(())
    }

    /// The latest block number.
    pub async fn head(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .context("eth_blockNumber on the devnet")
    }

    /// The hash of block `number`, if it exists.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .with_context(|| format!("eth_getBlockByNumber({number}) on the devnet"))?;
        Ok(block.map(|b| b.header.hash))
    }

    /// `eth_call` against the latest block.
    pub async fn call(&self, to: Address, data: impl Into<Bytes>) -> Result<Bytes> {
        let tx = TransactionRequest::default()
            .from(self.dev_account())
            .to(to)
            .input(TransactionInput::new(data.into()));
        self.provider
            .call(tx)
            .await
            .with_context(|| format!("eth_call to {to}"))
    }

    /// Sends a transaction for the node to fill and sign, returning its hash without waiting for
    /// it to be mined. `from` defaults to [`Devnet::dev_account`].
    pub async fn send(&self, mut tx: TransactionRequest) -> Result<TxHash> {
        if tx.from.is_none() {
            tx.from = Some(self.dev_account());
        }
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .context("eth_sendTransaction on the devnet")?;
        Ok(*pending.tx_hash())
    }

    /// Polls for a transaction's receipt until it is mined.
    pub async fn wait_receipt(&self, hash: TxHash) -> Result<TransactionReceipt> {
        // A mined block may take up to one block time; beyond that allow a generous margin.
        let budget =
            Duration::from_secs(60) + Duration::from_secs_f64(self.block_time.unwrap_or(0.0) * 3.0);
        let deadline = tokio::time::Instant::now() + budget;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(receipt) = self
                .provider
                .get_transaction_receipt(hash)
                .await
                .with_context(|| format!("eth_getTransactionReceipt({hash})"))?
            {
                return Ok(receipt);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("transaction {hash} not mined after {budget:?}");
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Sends a transaction, waits for it, and fails if it reverted.
    pub async fn transact(&self, tx: TransactionRequest) -> Result<TransactionReceipt> {
        let hash = self.send(tx.clone()).await?;
        let receipt = self.wait_receipt(hash).await?;
        if !receipt.status() {
            bail!(
                "transaction {hash} reverted (gas used {}): {}",
                receipt.gas_used,
                self.revert_reason(tx, &receipt).await
            );
        }
        Ok(receipt)
    }

    /// Replays a reverted transaction with `eth_call` on the state before its block, to report
    /// why it reverted.
    pub(crate) async fn revert_reason(
        &self,
        mut tx: TransactionRequest,
        receipt: &TransactionReceipt,
    ) -> String {
        let Some(block) = receipt.block_number else {
            return "not in a block".into();
        };
        if tx.from.is_none() {
            tx.from = Some(self.dev_account());
        }
        match self
            .provider
            .call(tx)
            .block(block.saturating_sub(1).into())
            .await
        {
            Ok(out) => format!("replay succeeded with {out}"),
            Err(e) => e.to_string(),
        }
    }

    /// Deploys `init_code` (creation bytecode with any constructor arguments appended) from the
    /// dev account and returns the new contract's address.
    pub async fn deploy(&self, init_code: impl Into<Bytes>) -> Result<Address> {
        let tx = TransactionRequest::default()
            .create()
            .input(TransactionInput::new(init_code.into()));
        let receipt = self.transact(tx).await.context("deploying a contract")?;
        receipt
            .contract_address
            .context("deployment receipt without a contract address")
    }
}

impl Devnet {
    /// Records a deployed `MultiSendCallOnly` for [`super::fund_many`] to reuse.
    pub(crate) async fn remember_multi_send(&self, address: Address) {
        *self.multi_send.lock().await = Some(address);
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        // `kill_on_drop` would do this too; being explicit documents the invariant.
        let _ = self.child.start_kill();
    }
}

/// anvil's command line, and the program's path for messages.
fn anvil_command(project_dir: &std::path::Path, opts: &DevnetOptions) -> (Command, PathBuf) {
    let anvil = project_dir.join(install::ANVIL_BIN);
    let mut cmd = Command::new(&anvil);
    // Port 0: anvil binds a free port itself and prints it, so parallel tests never race for
    // one.
    cmd.args(["--host", "127.0.0.1", "--port", "0"])
        .args(["--chain-id", &opts.chain_id.to_string()])
        .args(["--gas-limit", &opts.gas_limit.to_string()]);
    if let Some(secs) = opts.block_time {
        cmd.args(["--block-time", &secs.to_string()]);
    }
    cmd.args(&opts.extra_args);
    (cmd, anvil)
}

/// Reads a node's port from one line of its output, if the line announces it.
type PortParser = fn(&str) -> Option<u16>;

/// Reads lines until EOF, keeping the last few; the first line `parse` finds a port in reports
/// it.
async fn drain(
    pipe: impl AsyncRead + Unpin,
    output: Arc<Mutex<VecDeque<String>>>,
    mut port: Option<(oneshot::Sender<u16>, PortParser)>,
) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(raw)) = lines.next_line().await {
        // Node's colour libraries colour their output whenever the environment asks for it
        // (`FORCE_COLOR`, some CI services), pipe or not: the lines are read without escapes.
        let line = anstream::adapter::strip_str(&raw).to_string();
        if let Some(found) = port.as_ref().and_then(|(_, parse)| parse(&line)) {
            if let Some((tx, _)) = port.take() {
                let _ = tx.send(found);
            }
        }
        tracing::trace!(target: "devnet::node", "{line}");
        // A poisoned lock only means another drain task panicked; the tail is best effort.
        if let Ok(mut out) = output.lock() {
            if out.len() == OUTPUT_TAIL_LINES {
                out.pop_front();
            }
            out.push_back(line);
        }
    }
}

/// anvil's `Listening on 127.0.0.1:PORT`.
fn parse_listening_port(line: &str) -> Option<u16> {
    line.trim()
        .strip_prefix("Listening on ")?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

fn tail(output: &Mutex<VecDeque<String>>) -> String {
    output
        .lock()
        .map(|out| out.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::parse_listening_port;

    #[test]
    fn parses_anvil_listening_line() {
        assert_eq!(
            parse_listening_port("Listening on 127.0.0.1:37623"),
            Some(37623)
        );
        assert_eq!(parse_listening_port("Gas Limit"), None);
    }
}
