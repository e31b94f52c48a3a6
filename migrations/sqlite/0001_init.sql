-- Groups, their manifest versions, the follower's checkpoint, and every row derived from blocks.
-- Hashes and addresses are 0x-hex text (addresses checksummed); block numbers are integers,
-- -1 standing for "before genesis".

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    chain       TEXT NOT NULL,
    start_block BIGINT NOT NULL,
    -- The group's records are complete up to this block.
    synced_to   BIGINT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE manifest_versions (
    group_id        TEXT NOT NULL REFERENCES groups(id),
    version         BIGINT NOT NULL,
    hash            TEXT NOT NULL,
    effective_block BIGINT NOT NULL,
    document        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (group_id, version)
);

CREATE TABLE chain_cursor (
    chain        TEXT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Processed blocks within the reorg window, to find a fork point.
CREATE TABLE chain_blocks (
    chain        TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash   TEXT NOT NULL,
    parent_hash  TEXT NOT NULL,
    PRIMARY KEY (chain, block_number)
);

CREATE TABLE records (
    group_id        TEXT NOT NULL,
    chain           TEXT NOT NULL,
    chain_id        BIGINT NOT NULL,
    block_number    BIGINT NOT NULL,
    block_hash      TEXT NOT NULL,
    block_timestamp BIGINT,
    tx_hash         TEXT NOT NULL,
    tx_index        BIGINT NOT NULL,
    log_index       BIGINT NOT NULL,
    address         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    category        TEXT NOT NULL,
    fields          TEXT NOT NULL,
    topics          TEXT NOT NULL,
    data            TEXT NOT NULL,
    manifest_hash   TEXT,
    PRIMARY KEY (group_id, block_number, log_index)
);
CREATE INDEX records_group_kind ON records (group_id, kind, block_number);

-- Observed Safe structure after each change; the newest row is the current state.
CREATE TABLE safe_states (
    group_id     TEXT NOT NULL,
    chain        TEXT NOT NULL,
    safe         TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    log_index    BIGINT NOT NULL,
    source       TEXT NOT NULL,
    state        TEXT NOT NULL,
    PRIMARY KEY (group_id, safe, block_number, log_index)
);
CREATE INDEX safe_states_chain_block ON safe_states (chain, block_number);

CREATE TABLE divergences (
    group_id               TEXT NOT NULL,
    n                      BIGINT NOT NULL,
    chain                  TEXT NOT NULL,
    rule                   TEXT NOT NULL,
    severity               TEXT NOT NULL,
    subject                TEXT NOT NULL,
    item                   TEXT NOT NULL,
    expected               TEXT NOT NULL,
    observed               TEXT NOT NULL,
    status                 TEXT NOT NULL,
    opened_block           BIGINT NOT NULL,
    opened_block_hash      TEXT NOT NULL,
    opened_tx_hash         TEXT,
    opened_log_index       BIGINT,
    opened_manifest_hash   TEXT NOT NULL,
    resolved_block         BIGINT,
    resolved_block_hash    TEXT,
    resolved_tx_hash       TEXT,
    resolved_log_index     BIGINT,
    resolved_manifest_hash TEXT,
    resolution             TEXT,
    ack_note               TEXT,
    PRIMARY KEY (group_id, n)
);
CREATE INDEX divergences_chain_opened ON divergences (chain, opened_block);
CREATE INDEX divergences_status ON divergences (group_id, status);
