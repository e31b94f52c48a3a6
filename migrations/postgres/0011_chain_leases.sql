-- Replicas sharing the work: which replica follows each chain, and until when.
-- `epoch` grows by one at every acquisition; every write derived from a chain (batch, roll-back,
-- seal, statement, checkpoint) checks in its own transaction that its writer still holds the
-- chain at the epoch it acquired (a fencing token). Times are the database's clock, in ms.
CREATE TABLE chain_leases (
    chain         TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    renewed_at_ms BIGINT NOT NULL
);

-- Every running replica, holding chains or standing by, and how many chains it may hold.
CREATE TABLE replicas (
    id            TEXT PRIMARY KEY,
    seen_at_ms    BIGINT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    max_chains    BIGINT NOT NULL
);
