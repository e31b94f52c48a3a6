// The Hardhat network that `hardhat node` serves when a devnet is started with
// `NodeKind::Hardhat` (src/hardhat.rs). The Rust side passes every setting through the
// environment, so this one file serves every chain a test starts. Nothing is compiled here: the
// contracts come precompiled from the npm artifacts and from `compile.js`.
const env = process.env;

function number(name, fallback) {
  const value = env[name];
  return value === undefined || value === "" ? fallback : Number(value);
}

const blockTimeMs = number("GROUPSTATE_HARDHAT_BLOCK_TIME_MS", 0);

module.exports = {
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {
      chainId: number("GROUPSTATE_HARDHAT_CHAIN_ID", 31337),
      blockGasLimit: number("GROUPSTATE_HARDHAT_GAS_LIMIT", 300000000),
      // One block per transaction, like anvil; or a block every interval and no automine, like
      // anvil's `--block-time`.
      mining: blockTimeMs > 0 ? { auto: false, interval: blockTimeMs } : { auto: true, interval: 0 },
      // anvil's dev accounts: the same mnemonic, count and balance, so the same addresses hold
      // the same 10,000 ETH on either node.
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 10,
        accountsBalance: "10000000000000000000000",
      },
      // A reverted transaction is mined and reported by its receipt, as on anvil, rather than
      // failing the `eth_sendTransaction` call.
      throwOnTransactionFailures: false,
      throwOnCallFailures: true,
      loggingEnabled: false,
    },
  },
};
