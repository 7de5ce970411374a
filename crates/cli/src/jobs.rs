//! `hyperchain job`: inspect jobs (calls to TEE contracts) and lanes through a node's RPC.

use crate::remote::{Conn, runtime};
use anyhow::{Result, anyhow};
use clap::Subcommand;
use hyperchain_rpc::Client;
use hyperchain_rpc::api::{JobView, LaneView};
use hyperchain_types::{Address, Digest};

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// A job: its state, committee (with the seed that drew it), receipts and result.
    Show {
        /// The job id (the call's transaction id).
        id: Digest,
        #[command(flatten)]
        conn: Conn,
    },
    /// Jobs: every unresolved one, or a contract's latest.
    List {
        /// The latest jobs of this contract's lane.
        #[arg(long)]
        contract: Option<Address>,
        /// Only jobs assigned to this node that it has not answered.
        #[arg(long)]
        node: Option<Digest>,
        /// Only jobs in this state: waiting, assigned, stalled, done or failed.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        conn: Conn,
    },
    /// A TEE contract's lane: mode, regions, position and storage commitment.
    Lane {
        /// The contract.
        contract: Address,
        #[command(flatten)]
        conn: Conn,
    },
}

fn short(d: &Digest) -> String {
    d.to_string()[..12].to_string()
}

/// Prints a job as text.
pub fn print_job(job: &JobView) {
    println!("job        0x{}", job.id);
    println!(
        "contract   0x{} (lane position {})",
        job.contract, job.lane_seq
    );
    println!("call       {} by 0x{}", job.method, job.caller);
    println!(
        "ordered    height {} (round {}: epoch/view)",
        job.height, job.round
    );
    match &job.reason {
        Some(reason) => println!("state      {} ({reason})", job.state),
        None => println!("state      {}", job.state),
    }
    if job.state == "waiting" || job.state == "stalled" {
        println!(
            "next draw  by the seed of a round after {}",
            job.drawable_after
        );
    }
    if let Some(e) = &job.escrow {
        let amount = |s: &str| {
            s.parse::<u128>()
                .map(hyperchain_chain::fees::format_amount)
                .unwrap_or_else(|_| s.to_string())
        };
        println!(
            "escrow     {} for the committee, {} for receipts (the rest returns to the caller)",
            amount(&e.held),
            amount(&e.receipts)
        );
    }
    if let Some(a) = &job.assignment {
        let deadline = if a.deadline_ms == u64::MAX {
            "none until it is the lane's head (it follows the head on the same committee)".into()
        } else {
            match a.late_blocks {
                0 => format!("{} ms", a.deadline_ms),
                late => format!(
                    "{} ms, passed ({late} block(s) of the grace gone)",
                    a.deadline_ms
                ),
            }
        };
        println!(
            "committee  attempt {}, drawn at height {} by the seed of round {} (randomness 0x{}), deadline {deadline}",
            a.attempt,
            a.assigned_height,
            a.seed_round,
            short(&a.seed),
        );
        let revoked = job.result.as_ref().map(|r| r.revoked.as_slice());
        for m in &a.committee {
            let answered = match revoked {
                // Votes are not kept once a job is resolved.
                Some(revoked) if revoked.contains(&m.id) => "revoked (signed a wrong result)",
                Some(_) => "answered",
                None if a.answered.contains(&m.id) => "answered",
                None => "waiting",
            };
            println!("  {:<6} {:<5} 0x{}  {answered}", m.region, m.vendor, m.id);
        }
        if !a.excluded.is_empty() {
            println!(
                "excluded   {} silent node(s) of earlier committees",
                a.excluded.len()
            );
        }
    }
    if let Some(r) = &job.result {
        match &r.status.detail {
            Some(d) => println!("result     {} ({d})", r.status.status),
            None => println!("result     {}", r.status.status),
        }
        println!("output     0x{}", hex::encode(&r.output.0));
        println!("fuel       {}", r.fuel_used);
        println!("applied    height {} ({})", r.height, r.resolution);
        for id in &r.revoked {
            println!("revoked    0x{id} (signed a wrong result)");
        }
        println!("storage    0x{}", r.post_state);
    }
}

/// One step of a job as a waiting caller sees it: `hyperchain call` prints each step and its
/// `--json` output lists them all.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobProgress {
    /// Milliseconds since the caller started waiting for the job.
    pub elapsed_ms: u64,
    /// `waiting`, `assigned`, `stalled` or `done`.
    pub state: String,
    /// Why it is stalled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its committee's attempt number, once it has had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The round whose seed drew its committee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_round: Option<hyperchain_rpc::api::RoundView>,
    /// The committee, as `region/vendor 0xid`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub committee: Vec<String>,
    /// How many members have answered.
    pub answered: usize,
    /// A seed of a round after this one draws its next committee.
    pub drawable_after: hyperchain_rpc::api::RoundView,
}

impl JobProgress {
    fn of(job: &JobView, elapsed_ms: u64) -> JobProgress {
        let assigned = job.assignment.as_ref().filter(|a| !a.committee.is_empty());
        JobProgress {
            elapsed_ms,
            state: job.state.clone(),
            reason: job.reason.clone(),
            attempt: job.assignment.as_ref().map(|a| a.attempt),
            seed_round: assigned.map(|a| a.seed_round),
            committee: assigned
                .map(|a| {
                    a.committee
                        .iter()
                        .map(|m| format!("{}/{} 0x{}", m.region, m.vendor, m.id))
                        .collect()
                })
                .unwrap_or_default(),
            answered: job.assignment.as_ref().map_or(0, |a| a.answered.len()),
            drawable_after: job.drawable_after,
        }
    }

    /// Whether `other` is the same step (only the time differs).
    fn same_step(&self, other: &JobProgress) -> bool {
        JobProgress {
            elapsed_ms: other.elapsed_ms,
            ..self.clone()
        } == *other
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        let at = format!("[{:>5.1}s]", self.elapsed_ms as f64 / 1000.0);
        match self.state.as_str() {
            "waiting" => format!(
                "{at} waiting    for its turn in the lane and a committee drawn by the seed of a round after {}",
                self.drawable_after
            ),
            "failed" => format!(
                "{at} failed     {}",
                self.reason
                    .as_deref()
                    .unwrap_or("no committee could be formed")
            ),
            "stalled" => format!(
                "{at} stalled    {} (tried again every few seconds; it fails if that lasts the policy's max_stall_ms)",
                self.reason
                    .as_deref()
                    .unwrap_or("no committee can be formed")
            ),
            "assigned" if self.committee.is_empty() => format!("{at} assigned"),
            "assigned" => format!(
                "{at} assigned   attempt {} by the seed of round {}: {} ({}/{} answered)",
                self.attempt.unwrap_or(0),
                self.seed_round.unwrap_or_default(),
                self.committee
                    .iter()
                    .map(|m| match m.split_once(" 0x") {
                        Some((who, id)) => format!("{who} 0x{}…", &id[..id.len().min(12)]),
                        None => m.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                self.answered,
                self.committee.len()
            ),
            state => format!("{at} {state}"),
        }
    }
}

/// Waits until job `id` is resolved or failed (at most `timeout`); a stall is named. Each change of the
/// job's step (state, committee, answers, stall reason) is passed to `on_progress`.
pub async fn wait_done(
    client: &Client,
    id: &Digest,
    timeout: std::time::Duration,
    mut on_progress: impl FnMut(&JobProgress),
) -> Result<JobView> {
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let mut last: Option<JobProgress> = None;
    loop {
        let view = client
            .job(id)
            .await
            .map_err(|e| crate::remote::rpc_error(client.base_url(), e))?;
        if let Some(v) = &view {
            let step = JobProgress::of(v, started.elapsed().as_millis() as u64);
            if last.as_ref().is_none_or(|l| !l.same_step(&step)) {
                on_progress(&step);
                last = Some(step);
            }
        }
        match &view {
            Some(v) if v.state == "done" || v.state == "failed" => return Ok(v.clone()),
            _ if tokio::time::Instant::now() >= deadline => {
                let state = view.as_ref().map_or("unknown".into(), |v| {
                    let reason = v
                        .reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default();
                    format!("{}{reason}", v.state)
                });
                anyhow::bail!(
                    "job 0x{id} not resolved after {timeout:?} (it is {state}); check later with `hyperchain job show 0x{id}`"
                );
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

fn print_lane(lane: &LaneView) {
    println!("contract   0x{}", lane.contract);
    println!("mode       {}", lane.mode);
    if !lane.regions.is_empty() {
        println!("regions    {}", lane.regions.join(", "));
    }
    println!(
        "jobs       {} ordered, next to resolve: {}",
        lane.next_seq, lane.head
    );
    println!("storage    0x{}", lane.state);
    let queue = match (lane.queue.as_str(), lane.due_ms) {
        ("draw", _) => "its head is drawn a committee at the start of the next block".to_string(),
        ("late", _) => "its run is past its deadline; blocks are counting the grace".to_string(),
        ("due", Some(ms)) => format!("looked at by the first block ending after {ms} ms"),
        _ => "nothing due".to_string(),
    };
    println!("next       {queue}");
}

fn json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs a `hyperchain job` command.
pub fn run(cmd: JobCommand) -> Result<()> {
    runtime()?.block_on(async move {
        match cmd {
            JobCommand::Show { id, conn } => {
                let client = Client::new(&conn.rpc)?;
                let job = client.job(&id).await?.ok_or_else(|| {
                    anyhow!("no job 0x{id} (not finalized, or not a call to a TEE contract)")
                })?;
                if conn.json {
                    json(&job)
                } else {
                    print_job(&job);
                    Ok(())
                }
            }
            JobCommand::List {
                contract,
                node,
                state,
                limit,
                conn,
            } => {
                let client = Client::new(&conn.rpc)?;
                let contract = contract.map(|c| c.to_string());
                let node = node.map(|n| n.to_string());
                let limit = limit.to_string();
                let mut filters = vec![("limit", limit.as_str())];
                if let Some(c) = &contract {
                    filters.push(("contract", c));
                }
                if let Some(n) = &node {
                    filters.push(("node", n));
                }
                if let Some(s) = &state {
                    filters.push(("state", s));
                }
                let resp = client.jobs(&filters).await?;
                if conn.json {
                    return json(&resp);
                }
                println!("{} job(s) at height {}", resp.jobs.len(), resp.height);
                for job in &resp.jobs {
                    let committee = job.assignment.as_ref().map_or(String::new(), |a| {
                        a.committee
                            .iter()
                            .map(|m| format!("{}/{}:{}", m.region, m.vendor, short(&m.id)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    });
                    println!(
                        "0x{}  {}#{}  {:<8} {committee}",
                        short(&job.id),
                        short(&Digest(job.contract.0)),
                        job.lane_seq,
                        job.state
                    );
                }
                Ok(())
            }
            JobCommand::Lane { contract, conn } => {
                let client = Client::new(&conn.rpc)?;
                let lane = client
                    .lane(&contract)
                    .await?
                    .ok_or_else(|| anyhow!("0x{contract} has no lane (absent or replicated)"))?;
                if conn.json {
                    json(&lane)
                } else {
                    print_lane(&lane);
                    Ok(())
                }
            }
        }
    })
}
