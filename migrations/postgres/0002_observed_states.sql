-- Observed structure of every watched contract, not only Safes: a kind column
-- (safe | governor | timelock | roles | ownable) and the contract address.
CREATE TABLE observed_states (
    group_id     TEXT NOT NULL,
    chain        TEXT NOT NULL,
    contract     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    log_index    BIGINT NOT NULL,
    source       TEXT NOT NULL,
    state        TEXT NOT NULL,
    PRIMARY KEY (group_id, contract, kind, block_number, log_index)
);
CREATE INDEX observed_states_chain_block ON observed_states (chain, block_number);
INSERT INTO observed_states (group_id, chain, contract, kind, block_number, log_index, source, state)
    SELECT group_id, chain, safe, 'safe', block_number, log_index, source, state FROM safe_states;
DROP TABLE safe_states;
