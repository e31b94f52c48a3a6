-- A group's revision: bumped by every change to what a fold of its next batch starts from
-- (each batch committed, an unwind, a new manifest version, an acknowledgement) and checked by
-- each batch's commit, so a batch folded before such a change is folded again instead of being
-- written over it, and a group's state held in memory at an older revision is read again.
ALTER TABLE groups ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
