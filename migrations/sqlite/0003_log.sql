-- The verifiable log, one per chain: its leaves in order, every complete subtree of its Merkle
-- tree, and the checkpoints signed over it. Leaf and node hashes are 64 hex digits without 0x,
-- as transparency logs write them.

-- One row per chain: the tree's size, and the row a writer locks before appending.
CREATE TABLE log_heads (
    chain      TEXT PRIMARY KEY,
    tree_size  BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The leaves. `leaf` is the canonical encoding whose SHA-256 (with the 0x00 prefix) is
-- `leaf_hash`; the other columns are copies of what it says, for lookups.
CREATE TABLE log_entries (
    chain        TEXT NOT NULL,
    idx          BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    group_id     TEXT,
    block_number BIGINT NOT NULL,
    leaf_hash    TEXT NOT NULL,
    leaf         TEXT NOT NULL,
    -- The retraction leaf that voided this one, after a reorg deeper than the finality depth.
    voided_by    BIGINT,
    PRIMARY KEY (chain, idx)
);
CREATE INDEX log_entries_block ON log_entries (chain, block_number);

-- Node (level, idx) is the root of the perfect subtree of 2^level leaves starting at leaf
-- idx * 2^level; level 0 holds the leaf hashes. Only complete subtrees are stored, each once.
CREATE TABLE log_nodes (
    chain TEXT NOT NULL,
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (chain, level, idx)
);

CREATE TABLE log_checkpoints (
    chain     TEXT NOT NULL,
    tree_size BIGINT NOT NULL,
    root      TEXT NOT NULL,
    note      TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (chain, tree_size)
);

-- Each group's rows are in the log up to this block (NULL: nothing yet, start_block - 1).
ALTER TABLE groups ADD COLUMN sealed_to BIGINT;

-- A record's verdict is read back by the block where a divergence opened or was resolved.
CREATE INDEX divergences_group_opened ON divergences (group_id, opened_block);
CREATE INDEX divergences_group_resolved ON divergences (group_id, resolved_block);
