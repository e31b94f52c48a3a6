-- The alert outbox. Every divergence opened, resolved, retracted (its block reorged away) or
-- reopened (its resolution reorged away) adds one row to `alerts` in the same transaction as the
-- divergence change; the dispatcher then fans each alert out into one `alert_deliveries` row per
-- matching sink and delivers it at least once. `key` is the idempotency key receivers see.

CREATE TABLE alerts (
    id           BIGSERIAL PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    group_id     TEXT NOT NULL,
    chain        TEXT NOT NULL,
    divergence_n BIGINT NOT NULL,
    -- opened | resolved | retracted | reopened
    event        TEXT NOT NULL,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    -- The JSON body sent to webhooks, fixed when the alert is written.
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- 1 once the delivery rows of the configured sinks exist.
    fanned_out   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX alerts_unrouted ON alerts (id) WHERE fanned_out = 0;
CREATE INDEX alerts_group ON alerts (group_id, id);

-- One row per (alert, sink). `next_attempt_at` (unix ms) is when a pending delivery is due; a
-- dispatcher that claims one moves it a lease ahead, so a crash mid-send is retried later.
CREATE TABLE alert_deliveries (
    alert_id        BIGINT NOT NULL REFERENCES alerts(id),
    sink            TEXT NOT NULL,
    -- pending | delivered | dead
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    delivered_at    BIGINT,
    PRIMARY KEY (alert_id, sink)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
