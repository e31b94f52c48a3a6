-- Token metadata, read once from the chain when a token first moves in or out of a treasury:
-- its symbol (a string, or a bytes32 as older tokens such as MKR return it) and decimals.
-- NULL where the token does not answer, or answers something that is not a symbol or a
-- decimals count; the read side then shows the address and the raw amount.
CREATE TABLE tokens (
    chain    TEXT NOT NULL,
    address  TEXT NOT NULL,
    symbol   TEXT,
    decimals BIGINT,
    name     TEXT,
    PRIMARY KEY (chain, address)
);

-- The treasury at a glance: the flows of one (treasury, asset) by block (its balance since the
-- newest check, its chart) and a group's flows by block time (the 30-day window).
CREATE INDEX treasury_flows_asset_block ON treasury_flows (group_id, treasury, asset, block_number);
CREATE INDEX treasury_flows_group_time ON treasury_flows (group_id, block_timestamp);
