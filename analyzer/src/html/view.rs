//! What the HTML report draws for each attempt: its process, 5-tuple,
//! span, stages (name lookup, TCP connect, TLS, HTTP) with their times,
//! and its steps. Built from the correlation, bounded in size.

use crate::capture::AppSummary;
use crate::clock::Clock;
use crate::correlate::{Attempt, Correlation, Kind, Source, Step};
use crate::report::Verdict;

/// Attempts drawn at most: the cited one first, then failed ones, then
/// the rest in time order (a run with 1M events stays a small page).
pub(crate) const MAX_ATTEMPTS: usize = 100;
/// Steps listed per attempt at most (the cited ones are always kept).
pub(crate) const MAX_STEPS: usize = 80;

/// One stage of an attempt on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// `DNS`, `TCP connect`, `TLS`, `HTTP`.
    pub name: &'static str,
    /// ms since the trace started.
    pub start_ms: f64,
    /// ms since the trace started (>= `start_ms`).
    pub end_ms: f64,
}

/// One attempt as the HTML report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptView {
    /// 1-based number, as in the packet comments (`gotrace: attempt N`).
    pub number: usize,
    /// The process (TGID) and its comm.
    pub pid: u32,
    /// Its comm.
    pub comm: String,
    /// `tcp 198.18.0.1:40000 > 198.18.0.2:8080` (local part `?` when unknown).
    pub flow: String,
    /// ms since the trace started.
    pub start_ms: f64,
    /// ms since the trace started.
    pub end_ms: f64,
    /// Stages in order; the last one is where the attempt ended.
    pub stages: Vec<Stage>,
    /// Steps (syscalls and packets), at most [`MAX_STEPS`].
    pub steps: Vec<Step>,
    /// Steps left out by the bound.
    pub steps_omitted: usize,
    /// The verdict cites this attempt.
    pub cited: bool,
    /// SYNs sent (retransmissions included), for the label.
    pub syns: u32,
}

/// The attempts to draw, and how many were left out.
pub(crate) fn attempts(
    corr: &Correlation,
    clock: &Clock,
    verdict: &Verdict,
) -> (Vec<AttemptView>, usize) {
    let cites = |a: &Attempt| {
        verdict.evidence.iter().any(|e| match e.source {
            Source::Event => a.event_step(e.id).is_some(),
            Source::Packet => a.packet_step(e.id).is_some(),
        })
    };
    let mut order: Vec<(u8, usize)> = corr
        .attempts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let rank = if cites(a) {
                0
            } else if failed(a) {
                1
            } else {
                2
            };
            (rank, i)
        })
        .collect();
    order.sort();
    let omitted = order.len().saturating_sub(MAX_ATTEMPTS);
    order.truncate(MAX_ATTEMPTS);
    // Drawn in time order (attempts are already sorted by start).
    order.sort_by_key(|&(_, i)| i);
    let views = order
        .into_iter()
        .map(|(rank, i)| view(i + 1, &corr.attempts[i], clock, verdict, rank == 0))
        .collect();
    (views, omitted)
}

/// An attempt that ended badly by its own facts (the verdict may still
/// call it recovered).
fn failed(a: &Attempt) -> bool {
    a.connect
        .as_ref()
        .is_some_and(|c| c.value < 0 && c.value != -115)
        || a.so_error.as_ref().is_some_and(|e| e.value != 0)
        || a.rst.is_some()
        || a.icmp.is_some()
        || !a.drops.is_empty()
        || a.send_errno.is_some()
        || a.read_errno.is_some()
}

fn view(number: usize, a: &Attempt, clock: &Clock, verdict: &Verdict, cited: bool) -> AttemptView {
    let times = a.steps.iter().filter_map(|s| s.t_ms);
    let start_ms = times.clone().fold(clock.event_ms(a.start_ns), f64::min);
    let end_ms = times.fold(clock.event_ms(a.end_ns), f64::max).max(start_ms);
    let proto = match a.kind {
        Kind::Tcp => "tcp",
        Kind::Dns => "udp",
    };
    let local = a.local.map_or_else(|| "?".to_string(), |l| l.to_string());
    let mut steps = Vec::new();
    let mut omitted = 0;
    for s in &a.steps {
        let is_cited = verdict
            .evidence
            .iter()
            .any(|e| e.source == s.source && e.id == s.id);
        if steps.len() < MAX_STEPS || is_cited {
            steps.push(s.clone());
        } else {
            omitted += 1;
        }
    }
    AttemptView {
        number,
        pid: a.tgid,
        comm: a.comm.clone(),
        flow: format!("{proto} {local} > {}", a.peer),
        start_ms,
        end_ms,
        stages: stages(a, start_ms, end_ms),
        steps,
        steps_omitted: omitted,
        cited,
        syns: a.syn_count,
    }
}

/// The stages of `a` from its facts: a DNS exchange is one stage; a TCP
/// attempt is `TCP connect` until the SYN-ACK (or to its end without one),
/// then `TLS` from the first TLS record, then `HTTP` from the first HTTP
/// head (to the attempt's end, or to the first HTTP head for TLS).
fn stages(a: &Attempt, start_ms: f64, end_ms: f64) -> Vec<Stage> {
    let stage = |name, s: f64, e: f64| Stage {
        name,
        start_ms: s,
        end_ms: e.max(s),
    };
    if a.kind == Kind::Dns {
        return vec![stage("DNS", start_ms, end_ms)];
    }
    let t_of = |source: Source, id: u64| {
        a.steps
            .iter()
            .find(|s| s.source == source && s.id == id)
            .and_then(|s| s.t_ms)
    };
    let connected = a
        .syn_ack
        .as_ref()
        .and_then(|p| t_of(Source::Packet, p.number));
    let first = |tls: bool| {
        a.app
            .iter()
            .filter(|o| matches!(o.summary, AppSummary::Tls(_)) == tls)
            .find_map(|o| t_of(o.source, o.id))
    };
    let (tls, http) = (first(true), first(false));
    let connect_end = connected.or(tls).or(http).unwrap_or(end_ms);
    let mut out = vec![stage("TCP connect", start_ms, connect_end)];
    if let Some(t) = tls {
        out.push(stage("TLS", t, http.unwrap_or(end_ms)));
    }
    if let Some(h) = http {
        out.push(stage("HTTP", h, end_ms));
    } else if tls.is_none() && connected.is_some() && a.data_moved {
        // Data moved but no head was decoded (a binary protocol, git).
        out.push(stage("data", connect_end, end_ms));
    }
    out
}
