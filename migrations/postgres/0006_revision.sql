-- A group's revision: bumped by every change a fold depends on besides the chain (a new
-- manifest version, an acknowledgement), and checked by each batch's commit, so a batch folded
-- before such a change is folded again instead of being written over it.
ALTER TABLE groups ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
