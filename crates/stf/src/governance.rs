//! Governance by the validators (docs/DESIGN.md §11): a governance action is a proposal that
//! takes effect once 2f+1 of the validators have approved it on chain, so no single key can
//! change the attestation policy, register a release or revoke a node.
//!
//! State (root tree):
//!
//! | key | value |
//! |---|---|
//! | `gov/proposal/ ‖ id` | [`Proposal`] (id: the proposing transaction's), until it is carried out or lapses |
//! | `gov/open/ ‖ proposer` | the ids of that validator's open proposals (at most [`MAX_OPEN_PER_VALIDATOR`], 32 bytes each) |
//!
//! A proposal lapses [`PROPOSAL_TTL_MS`] after it was opened: approvals of a lapsed proposal
//! are refused, and its record is removed when its proposer opens another or anyone's
//! approval finds it lapsed. Every structure is bounded: at most
//! [`MAX_OPEN_PER_VALIDATOR`] open proposals per validator, each with at most one approval
//! per validator.

use crate::execute::ExecError;
use crate::registry::{self, Effect, Now, RegistryConfig, StateView};
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_state::TreeId;
use hyperchain_types::{Address, Digest, GovernanceAction, Proposal, ReceiptStatus};

/// Prefix of proposal records.
pub const PROPOSAL_PREFIX: &[u8] = b"gov/proposal/";
/// Prefix of each validator's list of open proposals.
pub const OPEN_PREFIX: &[u8] = b"gov/open/";
/// Open proposals one validator may have at once.
pub const MAX_OPEN_PER_VALIDATOR: usize = 8;
/// How long a proposal stays open (block time, ms): seven days.
pub const PROPOSAL_TTL_MS: u64 = 7 * 24 * 3_600_000;

/// The key of proposal `id`.
pub fn proposal_key(id: &Digest) -> Vec<u8> {
    [PROPOSAL_PREFIX, id.as_ref()].concat()
}

fn open_key(proposer: &Address) -> Vec<u8> {
    [OPEN_PREFIX, proposer.as_ref()].concat()
}

/// Approvals a proposal needs among `validators` validators: 2f+1 of n = 3f+1 (n − f).
pub fn quorum(validators: usize) -> usize {
    validators - validators.saturating_sub(1) / 3
}

/// Proposal `id`, if open or lapsed but not yet removed.
pub fn proposal(view: &impl StateView, id: &Digest) -> Result<Option<Proposal>, ExecError> {
    view.read(&TreeId::ROOT, &proposal_key(id))?
        .map(|raw| {
            Proposal::decode(bytes::Bytes::from(raw))
                .map_err(|e| ExecError::Corrupt(format!("proposal {id}: {e}")))
        })
        .transpose()
}

/// Every open (or lapsed but not yet removed) proposal of `validators`, by proposer in the
/// order given, then in the order each proposer opened them: at most
/// [`MAX_OPEN_PER_VALIDATOR`] per validator.
pub fn open_proposals(
    view: &impl StateView,
    validators: &[Address],
) -> Result<Vec<(Digest, Proposal)>, ExecError> {
    let mut out = Vec::new();
    for v in validators {
        for id in open_list(view, v)? {
            if let Some(p) = proposal(view, &id)? {
                out.push((id, p));
            }
        }
    }
    Ok(out)
}

/// The writes that withdraw every open proposal of `proposer`: a validator leaving the set
/// takes its proposals with it (its approvals already stop counting), so none is kept that
/// nobody lists or can account for.
pub(crate) fn withdraw_all(
    view: &impl StateView,
    proposer: &Address,
) -> Result<crate::validators::Writes, ExecError> {
    let open = open_list(view, proposer)?;
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let mut writes: Vec<_> = open
        .iter()
        .map(|id| (TreeId::ROOT, proposal_key(id), None))
        .collect();
    writes.push(open_list_write(proposer, &[]));
    Ok(writes)
}

fn open_list(view: &impl StateView, proposer: &Address) -> Result<Vec<Digest>, ExecError> {
    let Some(raw) = view.read(&TreeId::ROOT, &open_key(proposer))? else {
        return Ok(Vec::new());
    };
    if raw.len() % 32 != 0 {
        return Err(ExecError::Corrupt("open proposal list".into()));
    }
    Ok(raw
        .chunks(32)
        .map(|c| Digest(c.try_into().expect("32 bytes")))
        .collect())
}

fn open_list_write(proposer: &Address, ids: &[Digest]) -> (TreeId, Vec<u8>, Option<Vec<u8>>) {
    let value = (!ids.is_empty()).then(|| ids.iter().flat_map(|d| d.0).collect());
    (TreeId::ROOT, open_key(proposer), value)
}

fn rejected(reason: impl Into<String>) -> Effect {
    (ReceiptStatus::Rejected(reason.into()), Vec::new())
}

fn lapsed(p: &Proposal, now: Now) -> bool {
    now.ms >= p.opened_ms.saturating_add(PROPOSAL_TTL_MS)
}

/// `Propose`: a validator opens proposal `id` for `action`, approving it itself; with a
/// quorum of one it is carried out at once.
pub(crate) fn propose(
    view: &impl StateView,
    cfg: &RegistryConfig,
    sender: Address,
    id: Digest,
    action: &GovernanceAction,
    now: Now,
) -> Result<Effect, ExecError> {
    if !crate::validators::governing(view, cfg)?.contains(&sender) {
        return Ok(rejected(
            "not authorised: only a current validator's account may propose governance actions",
        ));
    }
    // The proposer's lapsed proposals make room.
    let mut writes = Vec::new();
    let mut open = Vec::new();
    for other in open_list(view, &sender)? {
        match proposal(view, &other)? {
            Some(p) if !lapsed(&p, now) => open.push(other),
            Some(_) => writes.push((TreeId::ROOT, proposal_key(&other), None)),
            None => {}
        }
    }
    if open.len() >= MAX_OPEN_PER_VALIDATOR {
        return Ok(rejected(format!(
            "this validator has {MAX_OPEN_PER_VALIDATOR} open proposals: wait for them to pass or lapse"
        )));
    }
    let p = Proposal {
        action: action.clone(),
        proposer: sender,
        opened_ms: now.ms,
        approvals: vec![sender],
    };
    decide(view, cfg, id, p, open, writes, now)
}

/// `Approve`: a validator approves open proposal `id`; at 2f+1 approvals it is carried out.
pub(crate) fn approve(
    view: &impl StateView,
    cfg: &RegistryConfig,
    sender: Address,
    id: &Digest,
    now: Now,
) -> Result<Effect, ExecError> {
    if !crate::validators::governing(view, cfg)?.contains(&sender) {
        return Ok(rejected(
            "not authorised: only a current validator's account may approve governance actions",
        ));
    }
    let Some(mut p) = proposal(view, id)? else {
        return Ok(rejected(format!(
            "no open proposal {id} (unknown, carried out or lapsed)"
        )));
    };
    let open: Vec<Digest> = open_list(view, &p.proposer)?
        .into_iter()
        .filter(|other| other != id)
        .collect();
    if lapsed(&p, now) {
        // Removed, and the approval refused: nothing else changes.
        return Ok((
            ReceiptStatus::Rejected(format!(
                "proposal {id} lapsed {PROPOSAL_TTL_MS} ms after it was opened"
            )),
            vec![
                (TreeId::ROOT, proposal_key(id), None),
                open_list_write(&p.proposer, &open),
            ],
        ));
    }
    if p.approvals.contains(&sender) {
        return Ok(rejected(format!("this validator already approved {id}")));
    }
    p.approvals.push(sender);
    decide(view, cfg, *id, p, open, Vec::new(), now)
}

/// Records proposal `p` (open, with the proposer's other open proposals `open`), or, with a
/// quorum of approvals, carries out its action and removes it.
fn decide(
    view: &impl StateView,
    cfg: &RegistryConfig,
    id: Digest,
    p: Proposal,
    mut open: Vec<Digest>,
    mut writes: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
    now: Now,
) -> Result<Effect, ExecError> {
    // Approvals count among the validators of the epoch that decides: those of validators
    // that have since left the set no longer count (docs/DESIGN.md §11).
    let governing = crate::validators::governing(view, cfg)?;
    let needed = quorum(governing.len());
    let counted = p.approvals.iter().filter(|a| governing.contains(a)).count();
    if counted < needed {
        open.push(id);
        writes.push((TreeId::ROOT, proposal_key(&id), Some(p.encode().to_vec())));
        writes.push(open_list_write(&p.proposer, &open));
        return Ok((ReceiptStatus::Accepted, writes));
    }
    let (status, action_writes) = registry::apply_action(view, cfg, &p.action, now)?;
    if let ReceiptStatus::Rejected(reason) = status {
        // The action itself is refused (e.g. a malformed policy): the proposal ends.
        writes.push((TreeId::ROOT, proposal_key(&id), None));
        writes.push(open_list_write(&p.proposer, &open));
        return Ok((
            ReceiptStatus::Rejected(format!("approved, but refused: {reason}")),
            writes,
        ));
    }
    writes.extend(action_writes);
    writes.push((TreeId::ROOT, proposal_key(&id), None));
    writes.push(open_list_write(&p.proposer, &open));
    Ok((ReceiptStatus::Accepted, writes))
}
