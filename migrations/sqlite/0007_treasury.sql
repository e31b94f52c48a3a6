-- Every movement of value into or out of a treasury the fold recognised, one row per
-- (transaction, locator, asset, direction): the rolling outflow windows and the balance check
-- are computed from them, and the read side shows them.
CREATE TABLE treasury_flows (
    group_id        TEXT NOT NULL,
    chain           TEXT NOT NULL,
    treasury        TEXT NOT NULL,
    asset           TEXT NOT NULL,
    direction       TEXT NOT NULL,
    block_number    BIGINT NOT NULL,
    block_timestamp BIGINT,
    tx_hash         TEXT NOT NULL,
    locator         TEXT NOT NULL,
    counterparty    TEXT NOT NULL,
    amount          TEXT NOT NULL,
    PRIMARY KEY (group_id, tx_hash, locator, asset, direction, treasury)
);
CREATE INDEX treasury_flows_chain_block ON treasury_flows (chain, block_number);
CREATE INDEX treasury_flows_group_block ON treasury_flows (group_id, block_number);

-- Each treasury's balance of each asset at the balance check's points (multiples of the
-- chain's interval): the next point is compared with it plus the flows in between.
CREATE TABLE treasury_balances (
    group_id     TEXT NOT NULL,
    chain        TEXT NOT NULL,
    treasury     TEXT NOT NULL,
    asset        TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    balance      TEXT NOT NULL,
    PRIMARY KEY (group_id, treasury, asset, block_number)
);
CREATE INDEX treasury_balances_chain_block ON treasury_balances (chain, block_number);
