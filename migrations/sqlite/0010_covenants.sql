-- Covenants between groups and their partners: each version's canonical document and hash,
-- the registered groups that are parties to it (the newest version's), the parties'
-- ratifications of each version, and the compliance statement of each period.
CREATE TABLE covenant_versions (
    covenant_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    document    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (covenant_id, version)
);

CREATE TABLE covenant_parties (
    covenant_id TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    PRIMARY KEY (covenant_id, group_id)
);
CREATE INDEX covenant_parties_group ON covenant_parties (group_id);

-- One party's ratification of one version (JSON: authority, signers and signatures).
CREATE TABLE covenant_ratifications (
    covenant_id  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    party        TEXT NOT NULL,
    ratification TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (covenant_id, version, party)
);

-- A period's statement: the chain whose log holds it, the period (its index and blocks), the
-- covenant version stated, the canonical body (exactly the bytes of its log leaf), the leaf's
-- index and the body signed with the log's key (absent when the log has no signing key).
CREATE TABLE covenant_statements (
    covenant_id TEXT NOT NULL,
    period      INTEGER NOT NULL,
    chain       TEXT NOT NULL,
    from_block  INTEGER NOT NULL,
    to_block    INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    leaf_index  INTEGER NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (covenant_id, period)
);
CREATE INDEX covenant_statements_chain ON covenant_statements (chain, leaf_index);
