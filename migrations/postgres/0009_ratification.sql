-- The ratification a manifest version carries: who, under which authority, approved its hash
-- (JSON; NULL: unratified).
ALTER TABLE manifest_versions ADD COLUMN ratification TEXT;
