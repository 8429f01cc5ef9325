//! Verdicts: which layer failed (before any syscall, the local kernel, the
//! network) and why, with the evidence that proves it.
//!
//! A confident wrong layer is the worst outcome, so every rule needs both
//! sides of the story (the syscall result and the wire) and otherwise says
//! `inconclusive` and what is missing.
//!
//! A run cut short (the command killed by a signal such as Ctrl-C's
//! SIGINT, or gotrace detaching) while a stage was pending for a second or
//! more is answered by that stage's state at the end, judged by its
//! evidence so far (`Diagnosis::interrupted`, verdict.json `pending`):
//! Go printed no error naming it, so the evidence picks the attempt. The
//! same when Go's error names no address, name or URL at all: the
//! recorded failures decide when they agree.
//!
//! After the TCP handshake, the stage a connection was left waiting on (a
//! proxy CONNECT, the TLS handshake, an HTTP response) and how it ended
//! (closed by the peer, or ACKed and never answered) is judged by
//! `rules::stage` from both timelines; a forward proxy's connection is
//! tied to the origin its request names, which is the URL Go's error names.
//! In a run that exited 0 nothing failed: what failed on the way is listed
//! as recovered, and a 404/410 (GOPROXY's "not here") is not listed.
//!
//! A `gotrace attach` bundle starts in the middle of the process's life and
//! may end before it: a process still running when gotrace detached, with
//! nothing failed yet, is `inconclusive` ([`Missing::NotFailedYet`]), never
//! `none`; and no network syscall after the attach proves nothing about
//! before it, so `before-syscall` needs Go's own words there
//! ([`Missing::BeforeAttach`] otherwise).

mod before;
pub mod rules;

use crate::capture::CaptureIndex;
use crate::cause::{Cause, Layer, Missing};
use crate::clock::Clock;
use crate::correlate::Correlation;
use crate::proto::goerr::GoClues;
use crate::report::{ended, speaker, Analysis, Verdict};
use gotrace_bundle::{ExitStatus, Meta};
use rules::Diagnosis;

/// Everything a decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// meta.json.
    pub meta: &'a Meta,
    /// Whether events.jsonl was present.
    pub have_events: bool,
    /// Whether some of its lines were unreadable.
    pub events_damaged: bool,
    /// Correlated attempts.
    pub corr: &'a Correlation,
    /// The capture index, when a capture was read.
    pub capture: Option<&'a CaptureIndex>,
    /// The command's stderr, when recorded.
    pub stderr: Option<&'a str>,
    /// What Go's error text in that stderr says ([`crate::proto::goerr::parse`],
    /// read once for the verdict and the report).
    pub clues: &'a GoClues,
    /// Clock mapping.
    pub clock: &'a Clock,
}

/// Decides the verdict for a bundle.
pub fn decide(input: &Input<'_>) -> Verdict {
    let clues = input.clues;
    let names = rules::DnsNames::of(input.corr);
    let diags: Vec<Diagnosis> = input
        .corr
        .attempts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| rules::diagnose(i, a, input, &names))
        .collect();
    let exit = input.meta.exit;
    let attached = is_attach(input.meta);
    if exit == Some(ExitStatus::Code(0)) {
        // A stage still pending at a clean exit was abandoned, not failed.
        let others: Vec<&Diagnosis> = diags
            .iter()
            .filter(|d| !d.no_outcome && !d.interrupted)
            .collect();
        let summary = if others.is_empty() && attached {
            "the command exited 0: nothing failed while gotrace was attached".to_string()
        } else if others.is_empty() {
            "the command exited 0: nothing failed".to_string()
        } else {
            format!(
                "the command exited 0; Go recovered from {} failed network attempt(s), listed as recovered",
                others.len()
            )
        };
        let mut v = verdict(input, Cause::None, summary, None, &others, &[]);
        // Nothing failed the run: what failed on the way was recovered from.
        for o in &mut v.other_failures {
            *o = format!("recovered: {o}");
        }
        return v;
    }
    let ended_by = input
        .meta
        .attach
        .as_ref()
        .and_then(|a| a.ended_by.as_deref());
    let status = ended(exit, ended_by);
    let go_says = clues
        .error_line
        .as_deref()
        .map(|l| format!("; {} said: {l}", speaker(&input.meta.argv)))
        .unwrap_or_default();
    let all: Vec<&Diagnosis> = diags.iter().collect();
    if !input.have_events {
        return inconclusive(
            input,
            format!("the command {status}, but there is no syscall trace (events.jsonl missing){go_says}"),
            vec![Missing::Events],
            &all,
        );
    }
    if detached(input.meta).is_some() {
        if let Some(v) = not_failed_yet(input, &diags, clues, &status, &go_says) {
            return v;
        }
    }
    if !input.corr.any_network_syscall {
        if input.events_damaged {
            return inconclusive(
                input,
                format!("the command {status} and no network syscall was recorded, but events.jsonl is damaged{go_says}"),
                vec![Missing::UndamagedEvents],
                &all,
            );
        }
        if input.meta.lost_events > 0 {
            return inconclusive(
                input,
                format!("the command {status} and no network syscall was recorded, but {} events were lost{go_says}", input.meta.lost_events),
                vec![Missing::LostEvents],
                &all,
            );
        }
        if exit.is_none() {
            return inconclusive(
                input,
                format!("the trace stopped before the command finished and no network syscall was recorded{go_says}"),
                vec![Missing::ExitStatus],
                &all,
            );
        }
        let when = if attached {
            "without a network syscall while gotrace was attached"
        } else {
            "without opening a socket"
        };
        let (c, summary) = match before::classify(clues, &status, when) {
            Some(found) => found,
            // It may have used the network before the attach: only Go's
            // own words (classify) can place the failure before it.
            None if attached => {
                return inconclusive(
                    input,
                    format!("the command {status} and made no network syscall while gotrace was attached, but it may have used the network before the attach{go_says}"),
                    vec![Missing::BeforeAttach],
                    &all,
                )
            }
            // Stopped by a signal (Ctrl-C on a hang): what it waited on
            // was not the network.
            None if matches!(exit, Some(ExitStatus::Signal(_))) => (
                Cause::NoNetworkAttempt,
                format!("the command {status} without a single network syscall: what it was waiting on when stopped was local (a file, a lock, a child process), not the network{go_says}"),
            ),
            None => (
                Cause::NoNetworkAttempt,
                format!("the command {status} without a single network syscall: the failure is local to the command{go_says}"),
            ),
        };
        return verdict(input, c, summary, None, &[], &[]);
    }
    if let (Some((c, summary)), true) = (
        before::classify(clues, &status, "before its network step"),
        diags.iter().all(|d| d.stderr_score == 0),
    ) {
        // Other fetches used the network fine; the failing one was never tried.
        return verdict(input, c, summary, None, &[], &[]);
    }
    match pick(&diags, clues, input) {
        Pick::One(d) => {
            let others: Vec<&Diagnosis> = diags
                .iter()
                .filter(|o| !std::ptr::eq(*o, d) && !o.no_outcome)
                .collect();
            let summary = d.summary.clone();
            verdict(input, d.cause, summary, Some(d), &others, &d.missing)
        }
        Pick::None(why, missing) => inconclusive(
            input,
            format!("the command {status}{go_says}; {why}"),
            missing,
            &all,
        ),
    }
}

/// Whether `meta` is of a `gotrace attach` bundle (`mode` `attach`, or an
/// `attach` object).
pub fn is_attach(meta: &Meta) -> bool {
    meta.mode == "attach" || meta.attach.is_some()
}

/// For an attach bundle whose process was still running when gotrace
/// detached: why it detached (`interrupted` or `duration`, meta.json
/// `attach.ended_by`); `None` otherwise.
pub fn detached(meta: &Meta) -> Option<&str> {
    if meta.exit.is_some() {
        return None;
    }
    let by = meta.attach.as_ref()?.ended_by.as_deref()?;
    matches!(by, "interrupted" | "duration").then_some(by)
}

/// A detached attach where nothing had failed: every attempt succeeded or
/// is still pending, and Go's stderr (as far as it was captured) reports
/// no failure. Inconclusive, citing the pending attempt Go's stderr points
/// at (else the latest) as what to watch; `None` when something failed.
fn not_failed_yet(
    input: &Input<'_>,
    diags: &[Diagnosis],
    clues: &GoClues,
    status: &str,
    go_says: &str,
) -> Option<Verdict> {
    let go_failed = clues.has_network_clue() || before::classify(clues, status, "").is_some();
    if go_failed || !diags.iter().all(|d| d.no_outcome) {
        return None;
    }
    let pending = diags.iter().max_by_key(|d| (d.stderr_score, d.start_ns));
    let still = pending
        .map(|d| format!("; still pending: {}", d.summary))
        .unwrap_or_default();
    let missing = vec![Missing::NotFailedYet];
    let mut v = verdict(input, Cause::InsufficientEvidence,
        format!("the command {status}, and nothing had failed while gotrace was attached{still}{go_says}"),
        pending,
        &[],
        &missing,
    );
    let keep = Missing::advice(&missing);
    v.remediation = match pending.and_then(|d| d.advice.as_deref()) {
        Some(advice) => format!("{keep}; so far: {advice}"),
        None => keep,
    };
    Some(v)
}

enum Pick<'a> {
    One(&'a Diagnosis),
    None(String, Vec<Missing>),
}

/// Chooses the attempt Go's error is about.
fn pick<'a>(diags: &'a [Diagnosis], clues: &GoClues, input: &Input<'_>) -> Pick<'a> {
    if diags.is_empty() {
        return Pick::None(
            "no failed connection or DNS exchange was recorded: the error is above the network (HTTP status, TLS, checksum) or its syscalls were not traced".into(),
            vec![Missing::FailedAttempt],
        );
    }
    let stderr_text = input.stderr.unwrap_or("").trim();
    if !stderr_text.is_empty() {
        let best = diags
            .iter()
            .filter(|d| d.stderr_score > 0)
            .max_by_key(|d| (d.stderr_score, d.decided(), d.start_ns));
        if let Some(d) = best {
            return Pick::One(d);
        }
        // Go's text names no address, name or URL (or nothing but a
        // progress line): it cannot say which attempt, so the evidence
        // does, once the run is over (exited, killed, detached).
        let names_nothing = !clues.has_network_clue() && clues.urls.is_empty();
        let over = input.meta.exit.is_some() || detached(input.meta).is_some();
        if let (true, true, Some(d)) = (names_nothing, over, by_evidence(diags, input)) {
            return Pick::One(d);
        }
        if input.meta.exit.is_none() && !clues.has_network_clue() {
            return Pick::None(
                "the trace ends before Go reported its error".into(),
                vec![Missing::RestOfRun],
            );
        }
        let why = if clues.has_network_clue() {
            "Go's error names an address or name that matches no recorded attempt"
        } else {
            "Go's error does not name an address, and the recorded failures disagree"
        };
        return Pick::None(why.into(), vec![Missing::AttemptMatchingGoError]);
    }
    match by_evidence(diags, input) {
        Some(d) => Pick::One(d),
        None if diags.iter().any(|d| d.decided()) => Pick::None(
            "stderr.log is missing and the recorded failures disagree".into(),
            vec![Missing::Stderr],
        ),
        None => Pick::None(
            "stderr.log is missing and no failure was proven".into(),
            vec![Missing::Stderr],
        ),
    }
}

/// The failure the evidence proves when Go's text names no attempt. A run
/// cut short (a signal, a detach) is about the stage still pending at its
/// end, judged by its evidence so far (the latest such, when several);
/// otherwise every proven failure must agree and nothing may have
/// succeeded after the last.
fn by_evidence<'a>(diags: &'a [Diagnosis], input: &Input<'_>) -> Option<&'a Diagnosis> {
    let cut_short =
        matches!(input.meta.exit, Some(ExitStatus::Signal(_))) || detached(input.meta).is_some();
    let pending = diags
        .iter()
        .filter(|d| d.interrupted && d.decided())
        .max_by_key(|d| d.start_ns);
    if let (true, Some(d)) = (cut_short, pending) {
        return Some(d);
    }
    let decided: Vec<&Diagnosis> = diags.iter().filter(|d| d.decided()).collect();
    let last = decided.iter().max_by_key(|d| d.start_ns).copied()?;
    let agree = decided.iter().all(|d| d.cause == last.cause);
    // A set, not a scan of the diagnoses per attempt: that was quadratic.
    let failed: std::collections::HashSet<usize> = diags.iter().map(|d| d.attempt).collect();
    let later_success = input
        .corr
        .attempts
        .iter()
        .enumerate()
        .any(|(i, a)| a.start_ns > last.start_ns && !failed.contains(&i));
    (agree && !later_success).then_some(last)
}

fn inconclusive(
    input: &Input<'_>,
    summary: String,
    missing: Vec<Missing>,
    others: &[&Diagnosis],
) -> Verdict {
    let others: Vec<&Diagnosis> = others.iter().copied().filter(|d| !d.no_outcome).collect();
    verdict(
        input,
        Cause::InsufficientEvidence,
        summary,
        None,
        &others,
        &missing,
    )
}

fn verdict(
    input: &Input<'_>,
    cause: Cause,
    summary: String,
    chosen: Option<&Diagnosis>,
    others: &[&Diagnosis],
    missing: &[Missing],
) -> Verdict {
    let layer = cause.layer();
    let target = chosen.map(|d| d.target.clone());
    let mut missing: Vec<Missing> = missing.to_vec();
    missing.dedup();
    // Retries and parallel A/AAAA lookups fail alike: one line per kind.
    let mut groups: Vec<(String, &Diagnosis, usize)> = Vec::new();
    for o in others {
        let key = format!("{}|{:?}", o.cause, o.target);
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some(g) => g.2 += 1,
            None => groups.push((key, o, 1)),
        }
    }
    let other_failures: Vec<String> = groups
        .iter()
        .take(10)
        .map(|(_, d, n)| match n {
            1 => d.summary.clone(),
            n => format!("{} (and {} more like it)", d.summary, n - 1),
        })
        .collect();
    let remediation = if layer == Layer::Inconclusive {
        chosen
            .and_then(|d| d.advice.clone())
            .unwrap_or_else(|| Missing::advice(&missing))
    } else {
        chosen
            .and_then(|d| d.fix.clone())
            .unwrap_or_else(|| cause.remediation(target.as_ref(), &input.meta.env))
    };
    Verdict {
        layer,
        cause,
        pending: layer != Layer::Inconclusive && chosen.is_some_and(|d| d.interrupted),
        summary,
        target,
        evidence: chosen.map(|d| d.evidence.clone()).unwrap_or_default(),
        remediation,
        missing,
        other_failures,
        analysis: Analysis::Bundle,
    }
}
