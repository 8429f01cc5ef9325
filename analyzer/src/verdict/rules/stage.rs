//! The stage an established TCP connection was waiting on, and how it
//! ended (issue 13 item 2). After the handshake a fetch is a chain of
//! request/answer stages, each opened by what we sent in the clear:
//!
//! - proxy CONNECT: `CONNECT host:port` to a forward proxy, answered by an
//!   HTTP status line (RFC 9110 9.3.6);
//! - TLS handshake: our ClientHello, answered by the server's first TLS
//!   record (ServerHello or an alert, RFC 8446 4.1.3);
//! - HTTP response: our request head, answered by a status line (RFC 9112
//!   section 4).
//!
//! A stage whose request left and got no answer of its kind ended in one
//! of three ways, each needing a syscall or kernel record and the wire:
//!
//! - closed by the peer: its FIN (`tcp_state` CLOSE_WAIT, `read` = 0, FIN
//!   on the wire) or RST (`tcp_receive_reset`, ECONNRESET, RST on the
//!   wire): `network / closed-without-response`; which of EOF or
//!   ECONNRESET Go reads depends on timing, the cause does not;
//! - no answer: the peer's kernel ACKed our request (wire) and nothing
//!   came back until Go closed the socket after a second or more (its TLS
//!   handshake deadline) or the run ended with the stage pending:
//!   `network / no-response`;
//! - otherwise (Go closed it at once, or no ACK is in the capture) the
//!   stage is not judged here.
//!
//! Answered stages (a status, an alert) are [`super::app`]'s. After the
//! TLS handshake the request is encrypted, so a stage after it is not told
//! apart here.

use std::borrow::Cow;

use super::{base, ev, how_run_ended, pending_long, pk, secs_to_end, undecided, Diagnosis};
use crate::capture::AppSummary;
use crate::cause::{Cause, Missing};
use crate::correlate::{AppObs, Attempt, Source, Step};
use crate::proto::errno;
use crate::proto::http::HttpHead;
use crate::proto::tls::Message;
use crate::verdict::Input;

/// Go waited this long (ns) after its request before closing: it gave up
/// (a deadline), it did not merely cancel a redundant dial.
const GAVE_UP_AFTER_NS: u64 = 1_000_000_000;

/// net/http's DefaultTransport `TLSHandshakeTimeout: 10 * time.Second`
/// (src/net/http/transport.go), which cmd/go's client keeps.
const GO_TLS_HANDSHAKE_TIMEOUT_S: f64 = 10.0;

/// A stage after the TCP handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// `CONNECT host:port` to a forward proxy.
    ProxyConnect,
    /// The TLS handshake.
    TlsHandshake,
    /// An HTTP request awaiting its response head.
    HttpResponse,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::ProxyConnect => "proxy CONNECT",
            Stage::TlsHandshake => "TLS handshake",
            Stage::HttpResponse => "HTTP response",
        }
    }
}

fn request(o: &AppObs) -> Option<&crate::proto::http::HttpRequest> {
    match &o.summary {
        AppSummary::Http(HttpHead::Request(r)) => Some(r),
        _ => None,
    }
}

fn is_response(o: &AppObs) -> bool {
    matches!(&o.summary, AppSummary::Http(HttpHead::Response(_)))
}

fn is_tls(o: &AppObs) -> bool {
    matches!(&o.summary, AppSummary::Tls(_))
}

fn is_client_hello(o: &AppObs) -> bool {
    match &o.summary {
        AppSummary::Tls(t) => t
            .messages
            .iter()
            .any(|m| matches!(m, Message::ClientHello(_))),
        AppSummary::Http(_) => false,
    }
}

/// The stage the connection was left waiting on: the first of ours whose
/// answer never came, with what we sent for it. `None` when every stage
/// we opened was answered (or nothing was sent).
pub(super) fn waiting(a: &Attempt) -> Option<(Stage, &AppObs)> {
    let ours = |f: &dyn Fn(&AppObs) -> bool| a.app.iter().find(|o| !o.from_peer && f(o));
    let answered = |f: &dyn Fn(&AppObs) -> bool| a.app.iter().any(|o| o.from_peer && f(o));
    let connect = ours(&|o| request(o).is_some_and(|r| r.method == "CONNECT"));
    if let Some(c) = connect {
        if !answered(&is_response) {
            return Some((Stage::ProxyConnect, c));
        }
    }
    // Bytes from the peer that decoded to nothing (or before any CONNECT)
    // are an answer of some kind: not silence.
    let raw_answer = connect.is_none() && (a.received || a.peer_payload.is_some());
    if let Some(h) = ours(&is_client_hello) {
        let answered_any = answered(&is_tls) || (raw_answer && !answered(&is_response));
        return (!answered_any).then_some((Stage::TlsHandshake, h));
    }
    let req = ours(&|o| request(o).is_some_and(|r| r.method != "CONNECT"))?;
    let answered_any = answered(&is_response) || raw_answer;
    (!answered_any).then_some((Stage::HttpResponse, req))
}

/// How an unanswered stage ended, when the evidence says: closed by the
/// peer, or silence Go gave up on (or the run cut short). `None` when
/// nothing was waiting or the stage's end is not shown.
pub(super) fn unanswered(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let (stage, sent) = waiting(a)?;
    let what = sent_text(stage, sent);
    closed_by_peer(a, input, stage, sent, &what).or_else(|| silent(a, input, stage, sent, &what))
}

fn cite(a: &Attempt, o: &AppObs) -> Option<Step> {
    match o.source {
        Source::Event => ev(a, Some(o.id)),
        Source::Packet => pk(a, Some(o.id)),
    }
}

/// `CONNECT 198.18.0.2:8443`, `the TLS ClientHello (SNI x)`, `GET /path`.
fn sent_text(stage: Stage, o: &AppObs) -> String {
    match (stage, &o.summary) {
        (_, AppSummary::Http(HttpHead::Request(r))) => format!("{} {}", r.method, r.target),
        (_, AppSummary::Tls(t)) => {
            let sni = t.messages.iter().find_map(|m| match m {
                Message::ClientHello(c) => c.sni.clone(),
                _ => None,
            });
            match sni {
                Some(s) => format!("TLS ClientHello (SNI {s})"),
                None => "TLS ClientHello".into(),
            }
        }
        _ => stage.name().into(),
    }
}

/// The peer ended the connection (FIN or RST) with the stage unanswered.
fn closed_by_peer(
    a: &Attempt,
    input: &Input<'_>,
    stage: Stage,
    sent: &AppObs,
    what: &str,
) -> Option<Diagnosis> {
    let peer = a.peer;
    let reset_err = a
        .read_errno
        .as_ref()
        .filter(|r| r.value == errno::ECONNRESET)
        .or(a
            .send_errno
            .as_ref()
            .filter(|s| matches!(s.value, errno::ECONNRESET | errno::EPIPE)));
    // The syscall or kernel side, then the wire.
    let (how, go_phrase, local, wire): (String, &'static str, Vec<Option<Step>>, Option<u64>) =
        if let Some(e) = reset_err.filter(|_| a.rst.is_some() || a.reset_received.is_some()) {
            (
                format!(
                    "reset the connection (RST{}): {} failed with {}",
                    wire_no(a.rst.as_ref().map(|r| r.number)),
                    step_name(a, e.id),
                    errno::name(e.value)
                ),
                "connection reset by peer",
                vec![
                    ev(a, a.reset_received.as_ref().map(|r| r.id)),
                    ev(a, Some(e.id)),
                ],
                a.rst.as_ref().map(|r| r.number),
            )
        } else if a.read_eof.is_some() || a.close_wait.is_some() {
            let eof = a
                .read_eof
                .as_ref()
                .map(|r| format!(": {} returned 0 (end of stream)", step_name(a, r.id)))
                .unwrap_or_default();
            (
                format!("closed the connection (FIN{}){eof}", wire_no(a.peer_fin)),
                "EOF",
                vec![
                    ev(a, a.close_wait.as_ref().map(|c| c.id)),
                    ev(a, a.read_eof.as_ref().map(|r| r.id)),
                ],
                a.peer_fin,
            )
        } else {
            return None;
        };
    let local: Vec<Step> = local.into_iter().flatten().collect();
    let wire_step = pk(a, wire);
    if wire_step.is_none() && input.capture.is_some() {
        let mut d = undecided(
            format!("{peer} seems to have ended the connection during the {} ({what}), but the capture shows no FIN or RST from it", stage.name()),
            vec![Missing::PeerClose],
        );
        d.evidence.extend(cite(a, sent));
        d.evidence.extend(local);
        return Some(d);
    }
    let mut d = base(
        Cause::ClosedWithoutResponse,
        format!(
            "{peer} {how}, after our {what} and before any answer to it: the {} stage was cut off by the server's side (Go: {go_phrase})",
            stage.name()
        ),
    );
    d.evidence.extend(cite(a, sent));
    d.evidence.extend(wire_step);
    d.evidence.extend(local);
    d.go_phrase = Some(Cow::Borrowed(go_phrase));
    if stage == Stage::ProxyConnect {
        d.summary.push_str(&origin_note(a));
    }
    Some(d)
}

/// The request was ACKed and never answered: Go gave up, or the run ended.
fn silent(
    a: &Attempt,
    input: &Input<'_>,
    stage: Stage,
    sent: &AppObs,
    what: &str,
) -> Option<Diagnosis> {
    let peer = a.peer;
    let since = a.last_send_ns.unwrap_or(a.start_ns);
    let gave_up = a
        .close_ns
        .filter(|c| c.saturating_sub(since) >= GAVE_UP_AFTER_NS);
    let pending = !a.closed && pending_long(since, input);
    if gave_up.is_none() && !pending {
        return None;
    }
    let waited = match gave_up {
        Some(c) => c.saturating_sub(since) as f64 / 1e9,
        None => secs_to_end(since, input),
    };
    let ended = match (gave_up, stage) {
        (Some(_), Stage::TlsHandshake) => format!(
            "Go gave up after {waited:.1} s (its TLS handshake deadline is {GO_TLS_HANDSHAKE_TIMEOUT_S:.0} s) and closed the socket (Go: net/http: TLS handshake timeout)"
        ),
        (Some(_), _) => format!("Go gave up after {waited:.1} s and closed the socket"),
        (None, _) => format!("{} after {waited:.1} s of waiting", how_run_ended(input)),
    };
    let Some(ack) = a.peer_acked else {
        let why = if input.capture.is_some() {
            "the capture shows no ACK of it from the peer (lost on the path?)"
        } else {
            "without the capture gotrace cannot show that it reached the peer"
        };
        let mut d = undecided(
            format!(
                "our {what} to {peer} got no answer during the {}, but {why}; {ended}",
                stage.name()
            ),
            vec![if input.capture.is_some() {
                Missing::PeerAck
            } else {
                Missing::Capture
            }],
        );
        d.evidence.extend(cite(a, sent));
        d.no_outcome = pending;
        return Some(d);
    };
    let mut d = base(
        Cause::NoResponse,
        format!(
            "{peer} accepted the TCP connection and its kernel ACKed our {what} (pkt {ack}), but nothing came back during the {}: the server's application never answered; {ended}",
            stage.name()
        ),
    );
    d.evidence.extend(cite(a, sent));
    d.evidence.extend(pk(a, Some(ack)));
    if stage == Stage::ProxyConnect {
        d.summary.push_str(&origin_note(a));
    }
    d.interrupted = pending;
    d.go_phrase = match (gave_up, stage) {
        (Some(_), Stage::TlsHandshake) => Some(Cow::Borrowed("TLS handshake timeout")),
        _ => None,
    };
    Some(d)
}

/// `; it is the forward proxy for 198.18.0.2:8443`.
fn origin_note(a: &Attempt) -> String {
    a.origin()
        .map(|(h, p)| format!("; {} is the forward proxy on the way to {h}:{p}", a.peer))
        .unwrap_or_default()
}

/// `, pkt 6` for a packet number, nothing without one.
fn wire_no(n: Option<u64>) -> String {
    n.map(|n| format!(", pkt {n}")).unwrap_or_default()
}

/// `read`, `write`... of event `id`, from its timeline text.
fn step_name(a: &Attempt, id: u64) -> String {
    a.event_step(id)
        .and_then(|s| s.text.split('(').next())
        .map(|s| format!("{s}()"))
        .unwrap_or_else(|| "the read".into())
}
