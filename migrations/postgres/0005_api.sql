-- Acknowledgements of divergences, and the index behind the API's time filter on records.
-- An acknowledged divergence is still open (the chain or a manifest can resolve it); the
-- acknowledgement survives a reorg that reverts its resolution.

ALTER TABLE divergences ADD COLUMN acked_at TEXT;

CREATE INDEX records_group_time ON records (group_id, block_timestamp);
