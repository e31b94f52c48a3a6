//! Which chains this replica follows: it holds a chain's lease in the database to follow it,
//! renews its leases by a heartbeat, takes free chains least-loaded first (up to
//! `replica.max_chains`), takes over the chains of a holder that stopped renewing, hands one
//! back when another replica has fewer, and hands every lease back when it stops.
//!
//! Every follower this keeper starts writes through a store fenced with its lease's epoch, so a
//! holder that lost its lease while paused (a stall, SIGSTOP) can no longer write when it wakes:
//! the keeper stops its follower at the next renewal, and the store refuses its writes even
//! before then.
//!
//! On SQLite the process is the file's only writer (an operating-system lock taken at start),
//! so it takes every chain at once, whoever held it before.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ReplicaConfig;
use crate::metrics::{ChainLease, LeaseView, Metrics};
use crate::store::{Fence, LeaseRow, ReplicaRow, Store, StoreError};

/// How long a stopping follower may take to end before its lease is handed back anyway (its
/// writes are fenced from then on).
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Starts the follower of a chain this replica now holds; it ends when the token fires or when
/// the store refuses its writes (lease lost).
pub type StartFollower = dyn Fn(&str, Fence, CancellationToken) -> JoinHandle<()> + Send + Sync;

/// A chain this replica holds and follows.
struct Held {
    epoch: i64,
    stop: CancellationToken,
    task: JoinHandle<()>,
    since: Instant,
}

/// The keeper of this replica's leases.
pub struct Keeper {
    id: String,
    config: ReplicaConfig,
    store: Store,
    chains: Vec<String>,
    metrics: Arc<Metrics>,
    /// Take every chain at start whoever holds it (this process is the only writer).
    exclusive: bool,
    held: BTreeMap<String, Held>,
    /// When the leases were last renewed successfully.
    renewed: Instant,
    /// When a chain was last handed to a less-loaded replica (at most one per lease).
    last_handoff: Option<Instant>,
}

impl Keeper {
    pub fn new(
        config: &ReplicaConfig,
        store: Store,
        chains: Vec<String>,
        metrics: Arc<Metrics>,
        exclusive: bool,
    ) -> Keeper {
        Keeper {
            id: config.id(),
            config: config.clone(),
            store,
            chains,
            metrics,
            exclusive,
            held: BTreeMap::new(),
            renewed: Instant::now(),
            last_handoff: None,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    /// Holds, renews, takes and hands back leases until `cancel` fires; then stops every
    /// follower and hands its leases back.
    pub async fn run(mut self, cancel: CancellationToken, start: Arc<StartFollower>) {
        tracing::info!(replica = %self.id, lease_ms = self.lease_ms(),
            max_chains = self.config.max_chains, "replica started");
        let tick = (self.config.heartbeat / 4)
            .clamp(Duration::from_millis(100), Duration::from_millis(500));
        let mut every = tokio::time::interval(tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heartbeat: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = every.tick() => {}
            }
            if last_heartbeat.is_none_or(|t| t.elapsed() >= self.config.heartbeat) {
                last_heartbeat = Some(Instant::now());
                self.heartbeat().await;
            }
            self.reap().await;
            if let Err(e) = self.balance(&start).await {
                tracing::warn!(replica = %self.id, error = %e, "reading or taking leases failed; trying again");
            }
        }
        self.stop_all().await;
    }

    /// Records this replica as alive and renews its leases; a chain missing from the renewal
    /// was taken over, and its follower stops. Leases that could not be renewed for a whole
    /// lease are given up, as another replica may hold them now.
    async fn heartbeat(&mut self) {
        let renewed = async {
            self.store
                .replica_seen(&self.id, self.config.max_chains as i64)
                .await?;
            let held: Vec<(String, i64)> = self
                .held
                .iter()
                .map(|(chain, h)| (chain.clone(), h.epoch))
                .collect();
            self.store
                .renew_leases(&self.id, &held, self.lease_ms())
                .await
        }
        .await;
        match renewed {
            Ok(held) => {
                self.renewed = Instant::now();
                let lost: Vec<String> = self
                    .held
                    .iter()
                    .filter(|(chain, h)| !held.iter().any(|(c, e)| c == *chain && *e == h.epoch))
                    .map(|(chain, _)| chain.clone())
                    .collect();
                for chain in lost {
                    tracing::warn!(replica = %self.id, %chain,
                        "lease taken over by another replica; stopping this chain's follower");
                    if let Some(h) = self.held.remove(&chain) {
                        h.stop.cancel();
                    }
                }
            }
            Err(e) => {
                tracing::warn!(replica = %self.id, error = %e, "renewing leases failed");
                if self.renewed.elapsed() >= self.config.lease && !self.held.is_empty() {
                    tracing::error!(replica = %self.id,
                        "leases not renewed for a whole lease; stopping every follower");
                    for (_, h) in std::mem::take(&mut self.held) {
                        h.stop.cancel();
                    }
                }
            }
        }
    }

    /// Forgets the chains whose follower ended by itself (its writes were refused), handing
    /// the lease back if it is still this replica's.
    async fn reap(&mut self) {
        let ended: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.task.is_finished())
            .map(|(c, _)| c.clone())
            .collect();
        for chain in ended {
            if let Some(h) = self.held.remove(&chain) {
                tracing::warn!(replica = %self.id, %chain, "follower ended; handing the lease back");
                self.release(&chain, h.epoch).await;
            }
        }
    }

    /// Reads the leases and the live replicas, and takes free chains while this replica is
    /// among the least loaded, or hands one back when it holds two more than the least loaded.
    async fn balance(&mut self, start: &Arc<StartFollower>) -> Result<(), StoreError> {
        // Live: seen within one and a half heartbeats, so that a dead replica drops out of the
        // count before its leases expire (a heartbeat is at most half a lease) and is never
        // counted as a less-loaded replica to hand its own chains back to.
        let live_ms = (self.config.heartbeat.as_millis() * 3 / 2) as i64;
        let replicas = self.store.replicas(live_ms).await?;
        for _ in 0..=self.chains.len() {
            let leases = self.store.leases().await?;
            self.publish(&leases, &replicas);
            let plan = plan(&Situation {
                me: &self.id,
                chains: &self.chains,
                held: &self.held.keys().cloned().collect::<Vec<_>>(),
                max_chains: self.config.max_chains,
                leases: &leases,
                replicas: &replicas,
                exclusive: self.exclusive,
            });
            match plan {
                Plan::Take { chain, dead } => {
                    let Some(epoch) = self
                        .store
                        .acquire_lease(&chain, &self.id, self.lease_ms(), &dead)
                        .await?
                    else {
                        // Another replica was faster; look again at the next tick.
                        return Ok(());
                    };
                    tracing::info!(replica = %self.id, %chain, epoch, "lease taken; following the chain");
                    let stop = CancellationToken::new();
                    let fence = Fence {
                        chain: chain.clone(),
                        holder: self.id.clone(),
                        epoch,
                        bound_ms: self.lease_ms(),
                    };
                    let task = start(&chain, fence, stop.clone());
                    self.held.insert(
                        chain,
                        Held {
                            epoch,
                            stop,
                            task,
                            since: Instant::now(),
                        },
                    );
                }
                Plan::HandOff => {
                    // At most one per lease, and never a chain just taken: the replicas'
                    // counts settle first.
                    let settled = self
                        .held
                        .values()
                        .all(|h| h.since.elapsed() >= self.config.lease);
                    if settled
                        && self
                            .last_handoff
                            .is_none_or(|t| t.elapsed() >= self.config.lease)
                    {
                        self.hand_off().await;
                    }
                    return Ok(());
                }
                Plan::Stay => return Ok(()),
            }
        }
        Ok(())
    }

    /// Hands the chain taken last to a less-loaded replica, so long-held chains stay put.
    async fn hand_off(&mut self) {
        let newest = self
            .held
            .iter()
            .max_by_key(|(_, h)| h.since)
            .map(|(c, _)| c.clone());
        let Some(chain) = newest else { return };
        tracing::info!(replica = %self.id, %chain,
            "another replica holds fewer chains; handing this one over");
        self.last_handoff = Some(Instant::now());
        if let Some(h) = self.held.remove(&chain) {
            stop(&chain, h.stop, h.task).await;
            self.release(&chain, h.epoch).await;
        }
    }

    async fn release(&self, chain: &str, epoch: i64) {
        match self.store.release_lease(chain, &self.id, epoch).await {
            Ok(true) => tracing::info!(replica = %self.id, %chain, epoch, "lease handed back"),
            Ok(false) => {}
            Err(e) => tracing::warn!(replica = %self.id, %chain, error = %e,
                "handing the lease back failed; it expires by itself"),
        }
    }

    /// Stops every follower, then hands every lease back at once, so a standby takes over at
    /// its next tick rather than after the lease.
    async fn stop_all(&mut self) {
        let held = std::mem::take(&mut self.held);
        for h in held.values() {
            h.stop.cancel();
        }
        for (chain, h) in held {
            stop(&chain, h.stop, h.task).await;
            self.release(&chain, h.epoch).await;
        }
        if let Err(e) = self
            .store
            .replica_gone(&self.id, 10 * self.lease_ms())
            .await
        {
            tracing::warn!(replica = %self.id, error = %e, "forgetting this replica failed");
        }
        tracing::info!(replica = %self.id, "replica stopped; leases handed back");
    }

    fn publish(&self, leases: &[LeaseRow], replicas: &[ReplicaRow]) {
        let mut live: Vec<String> = replicas.iter().map(|r| r.id.clone()).collect();
        if !live.contains(&self.id) {
            live.push(self.id.clone());
        }
        self.metrics.set_leases(LeaseView {
            replica: self.id.clone(),
            chains: self
                .chains
                .iter()
                .map(|chain| {
                    let row = leases.iter().find(|l| &l.chain == chain);
                    ChainLease {
                        chain: chain.clone(),
                        holder: row.filter(|l| l.is_held()).map(|l| l.holder.clone()),
                        epoch: row.map_or(0, |l| l.epoch),
                        held_here: self.held.contains_key(chain),
                    }
                })
                .collect(),
            replicas: live,
        });
    }
}

/// Cancels a follower and waits (a bounded time) for it to end.
async fn stop(chain: &str, token: CancellationToken, task: JoinHandle<()>) {
    token.cancel();
    if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
        tracing::warn!(%chain, "follower did not stop in time; its writes are fenced from now on");
    }
}

/// What the keeper sees at one tick.
struct Situation<'a> {
    me: &'a str,
    chains: &'a [String],
    /// The chains this replica holds and follows now.
    held: &'a [String],
    max_chains: usize,
    leases: &'a [LeaseRow],
    replicas: &'a [ReplicaRow],
    exclusive: bool,
}

/// What the keeper does at one tick.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Ask for `chain`; `dead` are holders known to be gone, whose unexpired lease may be taken.
    Take {
        chain: String,
        dead: Vec<String>,
    },
    /// Hand the newest chain to a less-loaded replica.
    HandOff,
    Stay,
}

/// Least-loaded first: this replica asks for a free chain only when no live replica with room
/// holds fewer chains, so replicas started together spread the chains one each; it hands one
/// back when it holds two more than such a replica. A chain is free when its lease expired,
/// was handed back, was never taken, or is held by a process known dead.
fn plan(s: &Situation<'_>) -> Plan {
    let mut load: BTreeMap<&str, usize> = s
        .replicas
        .iter()
        .filter(|r| r.id != s.me && !is_dead_local(&r.id))
        .map(|r| (r.id.as_str(), 0))
        .collect();
    for l in s.leases {
        if l.is_held() && l.holder != s.me {
            if let Some(n) = load.get_mut(l.holder.as_str()) {
                *n += 1;
            }
        }
    }
    let room = |id: &str, n: usize| {
        let max = s
            .replicas
            .iter()
            .find(|r| r.id == id)
            .map_or(0, |r| r.max_chains.max(0) as usize);
        max == 0 || n < max
    };
    let least_other = load
        .iter()
        .filter(|(id, n)| room(id, **n))
        .map(|(_, n)| *n)
        .min();
    let mine = s.held.len();
    let has_room = s.max_chains == 0 || mine < s.max_chains;
    let dead_of = |l: &LeaseRow| s.exclusive || is_dead_local(&l.holder);
    let mut free: Vec<(&String, Vec<String>)> = s
        .chains
        .iter()
        .filter_map(|chain| match s.leases.iter().find(|l| &l.chain == chain) {
            _ if s.held.contains(chain) => None,
            None => Some((chain, Vec::new())),
            // Its own lease from before a restart (same id) is this replica's to take again.
            Some(l) if !l.is_held() || l.holder == s.me => Some((chain, Vec::new())),
            Some(l) if dead_of(l) => Some((chain, vec![l.holder.clone()])),
            Some(_) => None,
        })
        .collect();
    if has_room && !free.is_empty() && least_other.is_none_or(|n| mine <= n) {
        // Replicas asking at the same tick start from different chains.
        free.sort_by_key(|(chain, _)| spread_key(s.me, chain));
        let (chain, dead) = free.swap_remove(0);
        return Plan::Take {
            chain: chain.clone(),
            dead,
        };
    }
    if free.is_empty() && least_other.is_some_and(|n| mine >= n + 2) {
        return Plan::HandOff;
    }
    Plan::Stay
}

/// An order of chains particular to each replica.
fn spread_key(me: &str, chain: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (me, chain).hash(&mut h);
    h.finish()
}

/// This host's name as the kernel has it (empty where it cannot be read).
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// A holder named like this replica's default id (`<hostname>-<pid>`) on this host whose
/// process is gone: a replica killed and restarted here need not wait for its old lease.
fn is_dead_local(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let here = this_host();
    !here.is_empty()
        && host == here
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(chain: &str, holder: &str, expires_in_ms: i64) -> LeaseRow {
        LeaseRow {
            chain: chain.into(),
            holder: holder.into(),
            epoch: 1,
            expires_in_ms,
            renewed_ms_ago: 0,
        }
    }

    fn replica(id: &str, max_chains: i64) -> ReplicaRow {
        ReplicaRow {
            id: id.into(),
            seen_ms_ago: 0,
            max_chains,
        }
    }

    fn chains(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn situation<'a>(
        me: &'a str,
        chains: &'a [String],
        held: &'a [String],
        leases: &'a [LeaseRow],
        replicas: &'a [ReplicaRow],
    ) -> Situation<'a> {
        Situation {
            me,
            chains,
            held,
            max_chains: 0,
            leases,
            replicas,
            exclusive: false,
        }
    }

    #[test]
    fn a_lone_replica_takes_every_free_chain() {
        let cs = chains(&["a", "b"]);
        let rs = [replica("r1", 0)];
        let p = plan(&situation("r1", &cs, &[], &[], &rs));
        assert!(matches!(p, Plan::Take { .. }), "{p:?}");
        let ls = [lease("a", "r1", 5000)];
        let p = plan(&situation("r1", &cs, &chains(&["a"]), &ls, &rs));
        assert_eq!(
            p,
            Plan::Take {
                chain: "b".into(),
                dead: vec![]
            }
        );
    }

    #[test]
    fn a_replica_with_more_than_another_waits_and_then_hands_one_over() {
        let cs = chains(&["a", "b", "c"]);
        let rs = [replica("r1", 0), replica("r2", 0)];
        // r1 holds a; r2 holds nothing: r1 waits for r2 to take the next free chain.
        let ls = [lease("a", "r1", 5000)];
        assert_eq!(
            plan(&situation("r1", &cs, &chains(&["a"]), &ls, &rs)),
            Plan::Stay
        );
        assert!(matches!(
            plan(&situation("r2", &cs, &[], &ls, &rs)),
            Plan::Take { .. }
        ));
        // r1 holds all three (r2 joined late): r1 hands one over; with two against one, not.
        let ls = [
            lease("a", "r1", 5000),
            lease("b", "r1", 5000),
            lease("c", "r1", 5000),
        ];
        assert_eq!(plan(&situation("r1", &cs, &cs, &ls, &rs)), Plan::HandOff);
        let ls = [
            lease("a", "r1", 5000),
            lease("b", "r1", 5000),
            lease("c", "r2", 5000),
        ];
        assert_eq!(
            plan(&situation("r1", &cs, &chains(&["a", "b"]), &ls, &rs)),
            Plan::Stay
        );
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_a_live_one_is_not() {
        let cs = chains(&["a"]);
        let rs = [replica("r2", 0)];
        let live = [lease("a", "r1", 3000)];
        assert_eq!(plan(&situation("r2", &cs, &[], &live, &rs)), Plan::Stay);
        let expired = [lease("a", "r1", -1)];
        assert_eq!(
            plan(&situation("r2", &cs, &[], &expired, &rs)),
            Plan::Take {
                chain: "a".into(),
                dead: vec![]
            }
        );
        // The only writer of a SQLite file takes a live lease from its dead predecessor.
        let mut only = situation("r2", &cs, &[], &live, &rs);
        only.exclusive = true;
        assert_eq!(
            plan(&only),
            Plan::Take {
                chain: "a".into(),
                dead: vec!["r1".into()]
            }
        );
    }

    #[test]
    fn a_replica_restarted_under_its_id_takes_its_own_lease_again() {
        let cs = chains(&["a"]);
        let rs = [replica("r1", 0), replica("r2", 0)];
        let ls = [lease("a", "r1", 5000)];
        assert_eq!(
            plan(&situation("r1", &cs, &[], &ls, &rs)),
            Plan::Take {
                chain: "a".into(),
                dead: vec![]
            }
        );
        assert_eq!(plan(&situation("r2", &cs, &[], &ls, &rs)), Plan::Stay);
    }

    #[test]
    fn a_replica_known_dead_is_not_handed_chains() {
        let host = this_host();
        if host.is_empty() {
            return;
        }
        let dead = format!("{host}-99999999");
        let cs = chains(&["a", "b"]);
        let rs = [replica(&dead, 0), replica("r2", 0)];
        let ls = [lease("a", "r2", 5000), lease("b", "r2", 5000)];
        assert_eq!(plan(&situation("r2", &cs, &cs, &ls, &rs)), Plan::Stay);
    }

    #[test]
    fn max_chains_caps_what_a_replica_takes_and_others_at_their_cap_do_not_count() {
        let cs = chains(&["a", "b", "c"]);
        let rs = [replica("r1", 1), replica("r2", 0)];
        let ls = [lease("a", "r1", 5000)];
        let held = chains(&["a"]);
        let mut s = situation("r1", &cs, &held, &ls, &rs);
        s.max_chains = 1;
        assert_eq!(plan(&s), Plan::Stay);
        // r2 holds b and c; r1 is full at one: r2 is not asked to hand anything over.
        let ls = [
            lease("a", "r1", 5000),
            lease("b", "r2", 5000),
            lease("c", "r2", 5000),
        ];
        assert_eq!(
            plan(&situation("r2", &cs, &chains(&["b", "c"]), &ls, &rs)),
            Plan::Stay
        );
    }

    #[test]
    fn a_dead_process_on_this_host_is_known_dead() {
        let host = this_host();
        if host.is_empty() {
            return;
        }
        assert!(!is_dead_local(&format!("{host}-{}", std::process::id())));
        // Pids are below 2^22 on Linux.
        assert!(is_dead_local(&format!("{host}-99999999")));
        assert!(!is_dead_local("elsewhere-99999999"));
        assert!(!is_dead_local("custom-name"));
    }
}
